/** Word lists the demo shop is made of: departments of related categories, with nouns, materials, prices. */

export interface CategoryDef {
  name: string;
  nouns: readonly string[];
  /** median price in major units */
  price: number;
}

export interface DepartmentDef {
  name: string;
  materials: readonly string[];
  categories: readonly CategoryDef[];
}

export const DEPARTMENTS: readonly DepartmentDef[] = [
  {
    name: "Lighting & Decor",
    materials: ["brass", "oak", "linen", "ceramic", "rattan", "marble"],
    categories: [
      { name: "Lamps", nouns: ["Floor Lamp", "Table Lamp", "Desk Lamp", "Pendant Light", "Wall Sconce"], price: 89 },
      { name: "Candles", nouns: ["Pillar Candle", "Scented Candle", "Tealight Set", "Candle Holder"], price: 18 },
      { name: "Wall Art", nouns: ["Framed Print", "Canvas", "Wall Hanging", "Mirror"], price: 65 },
      { name: "Vases", nouns: ["Bud Vase", "Floor Vase", "Bottle Vase", "Planter"], price: 34 },
    ],
  },
  {
    name: "Textiles",
    materials: ["cotton", "wool", "velvet", "jute", "linen", "bouclé"],
    categories: [
      { name: "Cushions", nouns: ["Cushion", "Floor Cushion", "Bolster", "Cushion Cover"], price: 29 },
      { name: "Throws", nouns: ["Throw", "Blanket", "Quilt", "Bedspread"], price: 59 },
      { name: "Rugs", nouns: ["Rug", "Runner", "Doormat", "Round Rug"], price: 120 },
      { name: "Bedding", nouns: ["Duvet Cover", "Pillowcase Pair", "Fitted Sheet", "Bedding Set"], price: 75 },
    ],
  },
  {
    name: "Kitchen & Dining",
    materials: ["stoneware", "porcelain", "cast iron", "steel", "glass", "acacia"],
    categories: [
      { name: "Mugs", nouns: ["Mug", "Espresso Cup", "Latte Mug", "Travel Mug"], price: 14 },
      { name: "Tableware", nouns: ["Dinner Plate", "Bowl", "Serving Platter", "Side Plate Set"], price: 32 },
      { name: "Cookware", nouns: ["Casserole", "Frying Pan", "Saucepan", "Roasting Tin"], price: 85 },
      { name: "Glassware", nouns: ["Tumbler Set", "Wine Glass Pair", "Carafe", "Coupe"], price: 28 },
    ],
  },
  {
    name: "Garden & Outdoor",
    materials: ["terracotta", "teak", "galvanised steel", "willow", "recycled plastic", "zinc"],
    categories: [
      { name: "Plants", nouns: ["Olive Tree", "Fern", "Monstera", "Herb Kit"], price: 36 },
      { name: "Pots", nouns: ["Plant Pot", "Trough", "Hanging Basket", "Window Box"], price: 26 },
      { name: "Outdoor Furniture", nouns: ["Bistro Set", "Lounger", "Bench", "Parasol"], price: 240 },
      { name: "Garden Tools", nouns: ["Trowel", "Pruner", "Watering Can", "Kneeler"], price: 22 },
    ],
  },
  {
    name: "Bath & Beauty",
    materials: ["organic cotton", "bamboo", "sea salt", "lavender", "cedar", "oat"],
    categories: [
      { name: "Towels", nouns: ["Bath Towel", "Hand Towel", "Bath Sheet", "Towel Bale"], price: 24 },
      { name: "Bath Care", nouns: ["Bath Soak", "Body Wash", "Soap Bar", "Bath Oil"], price: 16 },
      { name: "Skincare", nouns: ["Face Cream", "Serum", "Cleanser", "Lip Balm"], price: 30 },
      { name: "Fragrance", nouns: ["Room Spray", "Reed Diffuser", "Eau de Parfum", "Linen Mist"], price: 42 },
    ],
  },
  {
    name: "Play & Leisure",
    materials: ["beech", "recycled card", "felt", "cotton canvas", "paper", "cork"],
    categories: [
      { name: "Toys", nouns: ["Wooden Train", "Stacking Toy", "Soft Toy", "Puzzle"], price: 25 },
      { name: "Games", nouns: ["Board Game", "Card Game", "Chess Set", "Jigsaw"], price: 30 },
      { name: "Stationery", nouns: ["Notebook", "Pen Set", "Planner", "Card Pack"], price: 12 },
      { name: "Books", nouns: ["Cookbook", "Garden Guide", "Art Book", "Travel Journal"], price: 20 },
    ],
  },
];

export const ADJECTIVES: readonly string[] = [
  "Nordic",
  "Classic",
  "Coastal",
  "Modern",
  "Heritage",
  "Minimal",
  "Botanical",
  "Rustic",
  "Studio",
  "Alpine",
  "Meadow",
  "Harbour",
  "Sunset",
  "Midnight",
  "Sage",
  "Terracotta",
  "Ivory",
  "Ochre",
  "Indigo",
  "Forest",
];

export const FEATURES: readonly string[] = [
  "made to last",
  "hand-finished",
  "designed in our studio",
  "responsibly sourced",
  "a customer favourite",
  "new this season",
  "made in small batches",
  "easy to care for",
];
