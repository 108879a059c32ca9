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
