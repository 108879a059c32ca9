export { commandGroups, run } from './cli.js';
export {
  EXIT_FAILURE,
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
  TRANSPORTS,
  transportFromConfig,
  type BrokerAddresses,
  type TransportConfig,
  type TransportName,
} from './config/transport-from-config.js';
