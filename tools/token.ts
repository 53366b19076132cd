// Prints a development token (AUTH_MODE=dev, the default of `npm start`),
// alone on stdout so scripts can capture it:
//
//   npm run --silent token -- --sub alice --email alice@example.com [--name "Alice"] [--ttl 3600]
//   TOKEN=$(npm run --silent token -- --sub alice)
//
// It is signed with the key the server keeps under DATA_DIR (default .data).
import { parseArgs } from "node:util";
import { mintDevToken } from "../src/auth/dev-issuer.js";

const { values } = parseArgs({
  options: {
    sub: { type: "string" },
    email: { type: "string" },
    name: { type: "string" },
    ttl: { type: "string", default: "43200" },
  },
});
const ttl = Number(values.ttl);
if (!values.sub || !/^[A-Za-z0-9._@|:-]{1,255}$/.test(values.sub) || !Number.isInteger(ttl) || ttl <= 0) {
  console.error(
    "usage: npm run --silent token -- --sub <subject> [--email <email>] [--name <name>] [--ttl <seconds>]",
  );
  process.exit(2);
}
const token = await mintDevToken(
  process.env.DATA_DIR || ".data",
  { sub: values.sub, email: values.email, name: values.name },
  ttl,
);
process.stdout.write(`${token}\n`);
