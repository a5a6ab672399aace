/** Prints the README's configuration table from src/config.ts (a test keeps the two equal). */
import { settingDocs } from '../src/config.js';

process.stdout.write('| variable | default | meaning |\n| --- | --- | --- |\n');
for (const setting of settingDocs) process.stdout.write(`| \`${setting.env}\` | \`${setting.defaultValue}\` | ${setting.meaning} |\n`);
