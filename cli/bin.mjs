#!/usr/bin/env node
// No build step: the tool is TypeScript run through tsx, which `npm ci` installs with the project
// (as `npm start` runs local/start.ts), so `npx contacts-once` works in a fresh clone.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
