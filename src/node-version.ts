// Imported first by the entry points: on a Node older than 24 (the machine's
// own, run outside npm, whose scripts use the Node 24 in node_modules/.bin),
// say what to do in one line instead of failing later on what 24 has.
if (Number(process.versions.node.split(".")[0]) < 24) {
  console.error(
    `tracker needs Node.js 24 or newer, not ${process.version}: run it through npm (npm start, npm test, npm run ...), which uses the Node 24 that npm ci puts in node_modules/.bin, or install Node 24 (nvm install reads .nvmrc).`,
  );
  process.exit(1);
}
