// Checks the npm package as a user gets it: packs npm/ (run `npm run build:npm` first), installs
// the tarball into an empty project with a plain `npm install`, and on Node:
// - imports every entry point by its package name;
// - reads TCP_INFO of a live loopback connection, which needs the optional dependency koffi to
//   have come with the install (its native code is in per-platform optional packages, so no
//   install script has to run);
// - installs again with --omit=optional and checks that tcpInfo then answers UNSUPPORTED with a
//   reason naming koffi, and everything else still loads.
//
//   node scripts/check_npm_package.mjs
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const npmDir = join(root, "npm");

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", timeout: 180_000 });
  if (result.status !== 0) {
    console.error(`check_npm_package: ${command} ${args.join(" ")} failed in ${cwd}`);
    console.error(result.stdout, result.stderr);
    process.exit(1);
  }
  return result.stdout;
}

if (!existsSync(join(npmDir, "package.json"))) {
  console.error("check_npm_package: npm/ is missing: run npm run build:npm first");
  process.exit(1);
}
const manifest = JSON.parse(readFileSync(join(npmDir, "package.json"), "utf8"));
if (!manifest.optionalDependencies?.koffi) {
  console.error("check_npm_package: the package does not list koffi as an optional dependency");
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), "wirefetch-pack-"));
try {
  const tarball = join(
    work,
    run("npm", ["pack", "--silent", "--pack-destination", work], npmDir).trim().split("\n").pop(),
  );

  // What a user runs: a project, then a plain npm install of the package.
  const probe = `
    import { createServer, connect } from "node:net";
    const names = ${
    JSON.stringify(Object.keys(manifest.exports).filter((k) => k !== "./package.json"))
  };
    for (const subpath of names) await import(${JSON.stringify(manifest.name)} + subpath.slice(1));
    const { tcpInfo } = await import(${JSON.stringify(manifest.name + "/tcp-info")});
    const server = createServer((s) => s.on("data", (d) => s.write(d)));
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const socket = connect(server.address().port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.write("ping");
    await new Promise((r) => socket.once("data", r));
    const result = tcpInfo(socket);
    console.log(JSON.stringify({ state: result.info?.state, bytesReceived: result.info?.bytesReceived, code: result.code, reason: result.reason }));
    socket.destroy();
    server.close();
  `;
  const check = (omitOptional) => {
    const project = join(work, omitOptional ? "without-koffi" : "with-koffi");
    run("mkdir", ["-p", project], work);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "probe", private: true, type: "module" }),
    );
    writeFileSync(join(project, "probe.mjs"), probe);
    const args = ["install", "--no-audit", "--no-fund", tarball];
    if (omitOptional) args.push("--omit=optional");
    run("npm", args, project);
    return JSON.parse(run(process.execPath, ["probe.mjs"], project).trim().split("\n").pop());
  };

  const withKoffi = check(false);
  if (withKoffi.state !== "ESTABLISHED" || withKoffi.bytesReceived !== 4) {
    console.error(
      `check_npm_package: TCP_INFO on Node after npm install: ${JSON.stringify(withKoffi)}`,
    );
    process.exit(1);
  }
  console.log(
    `check_npm_package: npm install ${manifest.name} → TCP_INFO on Node: ${
      JSON.stringify(withKoffi)
    }`,
  );
  const without = check(true);
  if (without.code !== "UNSUPPORTED" || !/koffi/.test(without.reason ?? "")) {
    console.error(`check_npm_package: without koffi: ${JSON.stringify(without)}`);
    process.exit(1);
  }
  console.log(`check_npm_package: with --omit=optional → ${without.code}: ${without.reason}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
