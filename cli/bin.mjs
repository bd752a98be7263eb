#!/usr/bin/env node
// No build step: the tool is TypeScript run through tsx, which `npm ci` installs with the project,
// exactly as `npm start` runs local/start.ts (`node --import tsx`), so `npx contacts-once` works in
// a fresh clone. Importing `tsx` registers its loaders for ES modules and CommonJS alike.
await import('tsx');
await import('./main.ts');
