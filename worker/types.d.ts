/** Module declarations for files wrangler bundles as modules. */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
