export { commandGroups, run } from './cli.js';
export {
  EXIT_FAILURE,
  EXIT_NOTHING,
  EXIT_OK,
  EXIT_USAGE,
  UsageError,
  type Command,
  type CommandGroup,
  type CommandIo,
  type OptionValues,
} from './command.js';
export {
  CONFIG_FILES,
  loadToolConfig,
  readToolConfig,
  type ConsoleConfig,
  type DatabaseConfig,
  type ToolConfig,
} from './config/tool-config.js';
export {
  transportFromConfig,
  type BrokerAddresses,
  type TransportConfig,
} from './config/transport-from-config.js';
export { TRANSPORTS, type TransportName } from './config/transport-names.js';
