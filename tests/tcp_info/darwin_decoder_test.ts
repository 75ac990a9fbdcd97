// The macOS decoder against byte fixtures built from xnu's `struct tcp_connection_info`
// (bsd/netinet/tcp.h). Offsets are computed from the member list with C's alignment rules,
// independently of src/tcp_info/darwin.ts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeDarwinTcpInfo, TCP_CONNECTION_INFO, warnings } from "../../tcp_info.ts";

const MEMBERS: readonly [string, "u8" | "u32" | "u64"][] = [
  ["tcpi_state", "u8"],
  ["tcpi_snd_wscale", "u8"],
  ["tcpi_rcv_wscale", "u8"],
  ["__pad1", "u8"],
  ["tcpi_options", "u32"],
  ["tcpi_flags", "u32"],
  ["tcpi_rto", "u32"],
  ["tcpi_maxseg", "u32"],
  ["tcpi_snd_ssthresh", "u32"],
  ["tcpi_snd_cwnd", "u32"],
  ["tcpi_snd_wnd", "u32"],
  ["tcpi_snd_sbbytes", "u32"],
  ["tcpi_rcv_wnd", "u32"],
  ["tcpi_rttcur", "u32"],
  ["tcpi_srtt", "u32"],
  ["tcpi_rttvar", "u32"],
  ["tcpi_tfo_* bitfield (15 bits) + __pad2:17", "u32"],
  ["tcpi_txpackets", "u64"],
  ["tcpi_txbytes", "u64"],
  ["tcpi_txretransmitbytes", "u64"],
  ["tcpi_rxpackets", "u64"],
  ["tcpi_rxbytes", "u64"],
  ["tcpi_rxoutoforderbytes", "u64"],
  ["tcpi_txretransmitpackets", "u64"],
];

const SIZE = { u8: 1, u32: 4, u64: 8 } as const;
const OFFSET: Record<string, number> = {};
let end = 0;
for (const [name, type] of MEMBERS) {
  end = Math.ceil(end / SIZE[type]) * SIZE[type];
  OFFSET[name] = end;
  end += SIZE[type];
}

interface Values {
  state: number;
  sndWscale: number;
  rcvWscale: number;
  options: number;
  flags: number;
  rtoMs: number;
  maxseg: number;
  ssthresh: number;
  cwnd: number;
  sndWnd: number;
  sbbytes: number;
  rcvWnd: number;
  rttcurMs: number;
  srttMs: number;
  rttvarMs: number;
  tfo: number;
  txpackets: number;
  txbytes: number;
  txretransmitbytes: number;
  rxpackets: number;
  rxbytes: number;
  rxoutoforderbytes: number;
  txretransmitpackets: number;
}

const SAMPLE: Values = {
  state: 4, // TCPS_ESTABLISHED
  sndWscale: 6,
  rcvWscale: 8,
  options: 0b1011, // timestamps, sack, ecn (no wscale, to tell the bits apart)
  flags: 0b10, // reordering detected, not in loss recovery
  rtoMs: 230,
  maxseg: 1448,
  ssthresh: 1_073_725_440,
  cwnd: 64_000,
  sndWnd: 131_072,
  sbbytes: 5_000,
  rcvWnd: 262_144,
  rttcurMs: 9,
  srttMs: 12,
  rttvarMs: 4,
  tfo: 0b1 | (1 << 14), // cookie_req and onebyte_proxy
  txpackets: 2 ** 33 + 1,
  txbytes: 2 ** 41 + 2,
  txretransmitbytes: 4_200,
  rxpackets: 143,
  rxbytes: 141_273,
  rxoutoforderbytes: 77,
  txretransmitpackets: 3,
};

function fixture(v: Values): Uint8Array {
  const bytes = new Uint8Array(112);
  const view = new DataView(bytes.buffer);
  const u32 = (name: string, value: number): void => view.setUint32(OFFSET[name], value, true);
  const u64 = (name: string, value: number): void =>
    view.setBigUint64(OFFSET[name], BigInt(value), true);
  bytes[OFFSET.tcpi_state] = v.state;
  bytes[OFFSET.tcpi_snd_wscale] = v.sndWscale;
  bytes[OFFSET.tcpi_rcv_wscale] = v.rcvWscale;
  u32("tcpi_options", v.options);
  u32("tcpi_flags", v.flags);
  u32("tcpi_rto", v.rtoMs);
  u32("tcpi_maxseg", v.maxseg);
  u32("tcpi_snd_ssthresh", v.ssthresh);
  u32("tcpi_snd_cwnd", v.cwnd);
  u32("tcpi_snd_wnd", v.sndWnd);
  u32("tcpi_snd_sbbytes", v.sbbytes);
  u32("tcpi_rcv_wnd", v.rcvWnd);
  u32("tcpi_rttcur", v.rttcurMs);
  u32("tcpi_srtt", v.srttMs);
  u32("tcpi_rttvar", v.rttvarMs);
  // __pad2 bits set on purpose: they must not leak into tfoFlags.
  u32("tcpi_tfo_* bitfield (15 bits) + __pad2:17", v.tfo | 0xfffe_0000);
  u64("tcpi_txpackets", v.txpackets);
  u64("tcpi_txbytes", v.txbytes);
  u64("tcpi_txretransmitbytes", v.txretransmitbytes);
  u64("tcpi_rxpackets", v.rxpackets);
  u64("tcpi_rxbytes", v.rxbytes);
  u64("tcpi_rxoutoforderbytes", v.rxoutoforderbytes);
  u64("tcpi_txretransmitpackets", v.txretransmitpackets);
  return bytes;
}

describe("decodeDarwinTcpInfo", () => {
  it("has the xnu layout: 112 bytes, option 0x106", () => {
    assert.equal(end, 112);
    assert.equal(OFFSET.tcpi_txpackets, 56);
    assert.equal(OFFSET.tcpi_srtt, 44);
    assert.equal(TCP_CONNECTION_INFO, 0x106);
  });

  it("maps tcp_connection_info onto the normalized fields, ms converted to µs", () => {
    const info = decodeDarwinTcpInfo(fixture(SAMPLE), 112, { littleEndian: true });
    const { raw, ...rest } = info;
    assert.equal(raw.length, 112);
    assert.deepEqual(rest, {
      platform: "darwin",
      length: 112,
      state: "ESTABLISHED",
      stateNumber: 4,
      sndWscale: 6,
      rcvWscale: 8,
      options: { timestamps: true, sack: true, wscale: false, ecn: true },
      rto: 230_000,
      sndMss: 1448,
      sndWnd: 131_072,
      rcvWnd: 262_144,
      rtt: 12_000,
      rttVar: 4_000,
      segsOut: 2 ** 33 + 1,
      bytesSent: 2 ** 41 + 2,
      bytesRetrans: 4_200,
      segsIn: 143,
      bytesReceived: 141_273,
      totalRetrans: 3,
      darwin: {
        rttCur: 9_000,
        sndCwndBytes: 64_000,
        sndSsthreshBytes: 1_073_725_440,
        sndSbbytes: 5_000,
        rxOutOfOrderBytes: 77,
        lossRecovery: false,
        reorderingDetected: true,
        tfoFlags: 0b1 | (1 << 14),
      },
    });
  });

  it("does not invent Linux-only fields (absent, not zero)", () => {
    const info = decodeDarwinTcpInfo(fixture(SAMPLE), 112);
    for (const name of ["ato", "sndCwnd", "sndSsthresh", "minRtt", "bytesAcked", "lastDataSent"]) {
      assert.equal(name in info, false, name);
    }
  });

  it("maps xnu state numbers onto the Linux names", () => {
    const expected = [
      "CLOSE",
      "LISTEN",
      "SYN_SENT",
      "SYN_RECV",
      "ESTABLISHED",
      "CLOSE_WAIT",
      "FIN_WAIT1",
      "CLOSING",
      "LAST_ACK",
      "FIN_WAIT2",
      "TIME_WAIT",
    ];
    expected.forEach((name, state) => {
      const info = decodeDarwinTcpInfo(fixture({ ...SAMPLE, state }), 112);
      assert.equal(info.state, name);
      assert.equal(info.stateNumber, state);
    });
    assert.equal(decodeDarwinTcpInfo(fixture({ ...SAMPLE, state: 11 }), 112).state, "UNKNOWN");
  });

  it("leaves fields beyond a short length absent", () => {
    const info = decodeDarwinTcpInfo(fixture(SAMPLE), 56);
    assert.equal(info.rtt, 12_000);
    assert.equal("segsOut" in info, false);
    assert.equal("darwin" in info, false);
  });

  it("feeds warnings: retransmissions, reordering, out-of-order bytes, loss recovery", () => {
    const info = decodeDarwinTcpInfo(fixture({ ...SAMPLE, flags: 0b11 }), 112);
    assert.deepEqual(warnings(info).map((w) => w.code), [
      "RETRANSMISSIONS",
      "LOST",
      "REORDERING",
      "OUT_OF_ORDER",
    ]);
    const clean = decodeDarwinTcpInfo(
      fixture({
        ...SAMPLE,
        flags: 0,
        txretransmitpackets: 0,
        txretransmitbytes: 0,
        rxoutoforderbytes: 0,
      }),
      112,
    );
    assert.deepEqual(warnings(clean), []);
  });
});
