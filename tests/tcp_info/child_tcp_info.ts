// Run by permission_test.ts in a Deno subprocess with chosen permissions: connects to the port in
// the first argument, exchanges 5 bytes, prints tcpInfo's answer as one JSON line. A throw would
// exit non-zero with a stack trace, which the test would see.
import { fdSearchStats, tcpInfo } from "../../tcp_info.ts";

const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(Deno.args[0]) });
await conn.write(new Uint8Array([1, 2, 3, 4, 5]));
const echo = new Uint8Array(5);
let got = 0;
while (got < 5) got += (await conn.read(echo.subarray(got))) ?? 5;
const result = tcpInfo(conn);
console.log(JSON.stringify({
  hasInfo: result.info !== undefined,
  code: result.code ?? null,
  reason: result.reason ?? null,
  state: result.info?.state ?? null,
  bytesAcked: result.info?.bytesAcked ?? null,
  probed: fdSearchStats()?.probed ?? null,
  unlistedScans: fdSearchStats()?.unlistedScans ?? null,
}));
conn.close();
