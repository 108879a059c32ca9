export { InventoryService, type InventoryServiceOptions, type StockLevel } from './inventory-service.js';
export { InventoryHandlers } from './inventory-handlers.js';
export { INITIAL_STOCK } from './inventory-tables.js';
