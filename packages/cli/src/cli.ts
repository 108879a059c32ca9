import { parseArgs } from 'node:util';
import { isOmnibusError } from '@omnibus/core';
import type { Command, CommandGroup, CommandIo } from './command.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './command.js';
import { dbCommands } from './commands/db.js';
import { registryCommands } from './commands/registry.js';
import { sagasCommands } from './commands/sagas.js';
import { schemasCommands } from './commands/schemas.js';

/** Every command group of `omnibus`. A new group is one file in commands/ and one entry here. */
export const commandGroups: readonly CommandGroup[] = [
  dbCommands,
  registryCommands,
  sagasCommands,
  schemasCommands,
];

/** Short forms: `omnibus migrate …` is `omnibus db migrate …`. */
const aliases: Readonly<Record<string, readonly [string, string]>> = { migrate: ['db', 'migrate'] };

function overview(groups: readonly CommandGroup[]): string[] {
  const lines = ['usage: omnibus <group> <command> [options]', '', 'commands:'];
  for (const group of groups) {
    for (const command of group.commands) {
      lines.push(`  ${`${group.name} ${command.name}`.padEnd(22)} ${command.summary}`);
    }
  }
  lines.push('', 'omnibus <group> <command> --help shows the options of a command.');
  return lines;
}

function commandHelp(group: CommandGroup, command: Command): string[] {
  return [
    `usage: omnibus ${group.name} ${command.name} [options]`,
    '',
    command.summary,
    ...(command.optionHelp.length > 0
      ? ['', 'options:', ...command.optionHelp.map((line) => `  ${line}`)]
      : []),
  ];
}

/**
 * Runs `omnibus` with `argv` (without the node and script paths); resolves with the exit code: 0 done,
 * 1 the command failed (its reasons printed), 2 wrong usage.
 */
export async function run(argv: readonly string[], io: CommandIo, groups = commandGroups): Promise<number> {
  const alias = argv[0] === undefined ? undefined : aliases[argv[0]];
  const [groupName, commandName, ...rest] = alias === undefined ? argv : [...alias, ...argv.slice(1)];
  if (groupName === undefined || groupName === '--help' || groupName === '-h' || groupName === 'help') {
    for (const line of overview(groups)) (groupName === undefined ? io.stderr : io.stdout)(line);
    return groupName === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const group = groups.find((g) => g.name === groupName);
  if (group === undefined) {
    io.stderr(`omnibus: unknown command group '${groupName}'`);
    for (const line of overview(groups)) io.stderr(line);
    return EXIT_USAGE;
  }
  const command = group.commands.find((c) => c.name === commandName);
  if (command === undefined) {
    io.stderr(
      commandName === undefined
        ? `omnibus ${group.name}: which command? (${group.commands.map((c) => c.name).join(', ')})`
        : `omnibus ${group.name}: unknown command '${commandName}' (${group.commands.map((c) => c.name).join(', ')})`,
    );
    return EXIT_USAGE;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...rest],
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (error) {
    io.stderr(`omnibus ${group.name} ${command.name}: ${(error as Error).message}`);
    for (const line of commandHelp(group, command)) io.stderr(line);
    return EXIT_USAGE;
  }
  if (values.help === true) {
    for (const line of commandHelp(group, command)) io.stdout(line);
    return EXIT_OK;
  }
  try {
    return await command.run(values, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`omnibus ${group.name} ${command.name}: ${error.message}`);
      for (const line of commandHelp(group, command)) io.stderr(line);
      return EXIT_USAGE;
    }
    const message = isOmnibusError(error) ? `${error.message} [${error.code}]` : (error as Error).message;
    io.stderr(`omnibus ${group.name} ${command.name}: ${message}`);
    return EXIT_FAILURE;
  }
}
