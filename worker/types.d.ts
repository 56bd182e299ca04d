/** Module declarations for files wrangler bundles as modules. */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}

declare module "*.ttf" {
  const data: ArrayBuffer;
  export default data;
}

declare module "*.html" {
  const text: string;
  export default text;
}

declare module "*.txt" {
  const text: string;
  export default text;
}
