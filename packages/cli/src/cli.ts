import { parseArgs } from 'node:util';
import { isOmnibusError } from '@omnibus/core';
import type { Command, CommandGroup, CommandIo } from './command.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './command.js';
import { consoleCommands } from './commands/console.js';
import { dbCommands } from './commands/db.js';
import { dlqCommands } from './commands/dlq.js';
import { registryCommands } from './commands/registry.js';
import { sagasCommands } from './commands/sagas.js';
import { schedulesCommands } from './commands/schedules.js';
import { schemasCommands } from './commands/schemas.js';
import { CLI_VERSION } from './version.js';

/** Every command group of `omnibus`, in the order `--help` lists them. */
export const commandGroups: readonly CommandGroup[] = [
  // A new group is one file in commands/ and one line here.
  dbCommands,
  registryCommands,
  schemasCommands,
  schedulesCommands,
  sagasCommands,
  dlqCommands,
  consoleCommands,
];

/** Short forms, one line each, listed by `--help`: `omnibus migrate …` is `omnibus db migrate …`. */
export const commandAliases: Readonly<Record<string, readonly [group: string, command: string]>> = {
  migrate: ['db', 'migrate'],
  console: ['console', 'start'],
};

const column = (text: string) => `  ${text.padEnd(22)} `;

function overview(groups: readonly CommandGroup[]): string[] {
  const lines = ['usage: omnibus <group> <command> [options]', '', 'commands:'];
  for (const group of groups) {
    for (const command of group.commands)
      lines.push(`${column(`${group.name} ${command.name}`)}${command.summary}`);
  }
  const aliases = Object.entries(commandAliases).filter(([, [group, command]]) =>
    groups.some((g) => g.name === group && g.commands.some((c) => c.name === command)),
  );
  if (aliases.length > 0) {
    lines.push('', 'aliases:');
    for (const [alias, target] of aliases) lines.push(`${column(alias)}${target.join(' ')}`);
  }
  lines.push(
    '',
    'options:',
    `${column('help, -h, --help')}this list`,
    `${column('--version')}the version of @omnibus/cli`,
    '',
    'omnibus <group> <command> --help shows the options of a command.',
  );
  return lines;
}

function groupHelp(group: CommandGroup): string[] {
  return [
    `usage: omnibus ${group.name} <command> [options]`,
    '',
    group.summary,
    '',
    'commands:',
    ...group.commands.map((command) => `${column(command.name)}${command.summary}`),
  ];
}

function commandHelp(group: CommandGroup, command: Command): string[] {
  const aliases = Object.entries(commandAliases)
    .filter(([, target]) => target[0] === group.name && target[1] === command.name)
    .map(([alias]) => `omnibus ${alias}`);
  return [
    `usage: omnibus ${group.name} ${command.name} [options]`,
    ...(aliases.length > 0 ? [`   or: ${aliases.join(', ')} [options]`] : []),
    '',
    command.summary,
    ...(command.optionHelp.length > 0
      ? ['', 'options:', ...command.optionHelp.map((line) => `  ${line}`)]
      : []),
  ];
}

/**
 * Runs `omnibus` with `argv` (without the node and script paths); resolves with the exit code: 0 done,
 * 1 the command failed (its reasons printed), 2 wrong usage, 3 nothing to act on (nothing changed).
 */
export async function run(argv: readonly string[], io: CommandIo, groups = commandGroups): Promise<number> {
  if (argv[0] === '--version') {
    io.stdout(CLI_VERSION);
    return EXIT_OK;
  }
  // `omnibus console` is an alias and a group: `omnibus console start` is the group's command.
  const spelledOut = groups.some((g) => g.name === argv[0] && g.commands.some((c) => c.name === argv[1]));
  const alias = argv[0] === undefined || spelledOut ? undefined : commandAliases[argv[0]];
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
  if (commandName === '--help' || commandName === '-h') {
    for (const line of groupHelp(group)) io.stdout(line);
    return EXIT_OK;
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
