// The Linux decoder against byte fixtures built from the kernel's struct declaration. The offsets
// here are computed from the member list below with C's alignment rules, independently of the
// offsets written in src/tcp_info/linux.ts, so a wrong offset there fails a test here.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeLinuxTcpInfo, TCP_INFO_FIELDS, type TcpInfo } from "../../tcp_info.ts";

// include/uapi/linux/tcp.h `struct tcp_info` as of 6.18, in declaration order, with the normalized
// name each member decodes to (null: not decoded). The two bitfield bytes (offsets 6 and 7) are
// tested separately.
const MEMBERS: readonly [string, "u8" | "u16" | "u32" | "u64", keyof TcpInfo | null][] = [
  ["tcpi_state", "u8", "stateNumber"],
  ["tcpi_ca_state", "u8", "caState"],
  ["tcpi_retransmits", "u8", "retransmits"],
  ["tcpi_probes", "u8", "probes"],
  ["tcpi_backoff", "u8", "backoff"],
  ["tcpi_options", "u8", null],
  ["tcpi_snd_wscale:4, tcpi_rcv_wscale:4", "u8", null],
  ["tcpi_delivery_rate_app_limited:1, tcpi_fastopen_client_fail:2", "u8", null],
  ["tcpi_rto", "u32", "rto"],
  ["tcpi_ato", "u32", "ato"],
  ["tcpi_snd_mss", "u32", "sndMss"],
  ["tcpi_rcv_mss", "u32", "rcvMss"],
  ["tcpi_unacked", "u32", "unacked"],
  ["tcpi_sacked", "u32", "sacked"],
  ["tcpi_lost", "u32", "lost"],
  ["tcpi_retrans", "u32", "retrans"],
  ["tcpi_fackets", "u32", null],
  ["tcpi_last_data_sent", "u32", "lastDataSent"],
  ["tcpi_last_ack_sent", "u32", null],
  ["tcpi_last_data_recv", "u32", "lastDataRecv"],
  ["tcpi_last_ack_recv", "u32", "lastAckRecv"],
  ["tcpi_pmtu", "u32", "pmtu"],
  ["tcpi_rcv_ssthresh", "u32", "rcvSsthresh"],
  ["tcpi_rtt", "u32", "rtt"],
  ["tcpi_rttvar", "u32", "rttVar"],
  ["tcpi_snd_ssthresh", "u32", "sndSsthresh"],
  ["tcpi_snd_cwnd", "u32", "sndCwnd"],
  ["tcpi_advmss", "u32", "advmss"],
  ["tcpi_reordering", "u32", "reordering"],
  ["tcpi_rcv_rtt", "u32", "rcvRtt"],
  ["tcpi_rcv_space", "u32", "rcvSpace"],
  ["tcpi_total_retrans", "u32", "totalRetrans"],
  ["tcpi_pacing_rate", "u64", "pacingRate"],
  ["tcpi_max_pacing_rate", "u64", "maxPacingRate"],
  ["tcpi_bytes_acked", "u64", "bytesAcked"],
  ["tcpi_bytes_received", "u64", "bytesReceived"],
  ["tcpi_segs_out", "u32", "segsOut"],
  ["tcpi_segs_in", "u32", "segsIn"],
  ["tcpi_notsent_bytes", "u32", "notsentBytes"],
  ["tcpi_min_rtt", "u32", "minRtt"],
  ["tcpi_data_segs_in", "u32", "dataSegsIn"],
  ["tcpi_data_segs_out", "u32", "dataSegsOut"],
  ["tcpi_delivery_rate", "u64", "deliveryRate"],
  ["tcpi_busy_time", "u64", "busyTime"],
  ["tcpi_rwnd_limited", "u64", "rwndLimited"],
  ["tcpi_sndbuf_limited", "u64", "sndbufLimited"],
  ["tcpi_delivered", "u32", "delivered"],
  ["tcpi_delivered_ce", "u32", "deliveredCe"],
  ["tcpi_bytes_sent", "u64", "bytesSent"],
  ["tcpi_bytes_retrans", "u64", "bytesRetrans"],
  ["tcpi_dsack_dups", "u32", "dsackDups"],
  ["tcpi_reord_seen", "u32", "reordSeen"],
  ["tcpi_rcv_ooopack", "u32", "rcvOoopack"],
  ["tcpi_snd_wnd", "u32", "sndWnd"],
  ["tcpi_rcv_wnd", "u32", "rcvWnd"],
  ["tcpi_rehash", "u32", "rehash"],
  ["tcpi_total_rto", "u16", "totalRto"],
  ["tcpi_total_rto_recoveries", "u16", "totalRtoRecoveries"],
  ["tcpi_total_rto_time", "u32", "totalRtoTime"],
  ["tcpi_received_ce", "u32", "receivedCe"],
  ["tcpi_delivered_e1_bytes", "u32", "deliveredE1Bytes"],
  ["tcpi_delivered_e0_bytes", "u32", "deliveredE0Bytes"],
  ["tcpi_delivered_ce_bytes", "u32", "deliveredCeBytes"],
  ["tcpi_received_e1_bytes", "u32", "receivedE1Bytes"],
  ["tcpi_received_e0_bytes", "u32", "receivedE0Bytes"],
  ["tcpi_received_ce_bytes", "u32", "receivedCeBytes"],
  ["tcpi_accecn_fail_mode/opt_seen (6.18) or ecn_mode bitfield (later)", "u32", null],
];

const SIZE = { u8: 1, u16: 2, u32: 4, u64: 8 } as const;

interface Member {
  c: string;
  type: "u8" | "u16" | "u32" | "u64";
  name: keyof TcpInfo | null;
  offset: number;
  size: number;
}

// C layout: each member at the next multiple of its own size; the struct is padded to 8.
function layout(): { members: Member[]; size: number } {
  const members: Member[] = [];
  let offset = 0;
  for (const [c, type, name] of MEMBERS) {
    const size = SIZE[type];
    offset = Math.ceil(offset / size) * size;
    members.push({ c, type, name, offset, size });
    offset += size;
  }
  return { members, size: Math.ceil(offset / 8) * 8 };
}

const { members: LAYOUT, size: STRUCT_SIZE } = layout();

// A distinct value per member, with bits in the high half of u64 and u32 members so a decoder
// reading the wrong width or the wrong half is caught.
function valueOf(index: number, type: Member["type"]): number {
  switch (type) {
    case "u8":
      return index + 1;
    case "u16":
      return 0x100 * (index + 1) + 7;
    case "u32":
      return 0x0100_0000 * ((index % 200) + 1) + index;
    case "u64":
      return 2 ** 40 * (index + 1) + index;
  }
}

function fixture(littleEndian = true): Uint8Array {
  const bytes = new Uint8Array(512);
  const view = new DataView(bytes.buffer);
  LAYOUT.forEach((member, index) => {
    if (member.name === null) return;
    const value = valueOf(index, member.type);
    if (member.type === "u8") view.setUint8(member.offset, value);
    else if (member.type === "u16") view.setUint16(member.offset, value, littleEndian);
    else if (member.type === "u32") view.setUint32(member.offset, value, littleEndian);
    else view.setBigUint64(member.offset, BigInt(value), littleEndian);
  });
  bytes[0] = 1; // a real state number: TCP_ESTABLISHED
  bytes[5] = 0b0000_0111; // timestamps, sack, wscale
  bytes[6] = (9 << 4) | 7; // little-endian: snd_wscale = 7 (low nibble), rcv_wscale = 9
  bytes[7] = 0b101; // app_limited = 1, fastopen_client_fail = 2
  // Trailing bytes past the known layout, as a newer kernel would fill them.
  bytes.fill(0xee, STRUCT_SIZE, 512);
  return bytes;
}

function expectedValue(member: Member, index: number): number {
  return member.name === "stateNumber" ? 1 : valueOf(index, member.type);
}

describe("decodeLinuxTcpInfo", () => {
  it("lays out struct tcp_info as the kernel does (offsets of C's static_asserts)", () => {
    // Offsets cross-checked against the kernel header; a wrong member list above fails here.
    const at = (c: string): number => LAYOUT.find((m) => m.c === c)!.offset;
    assert.equal(at("tcpi_rto"), 8);
    assert.equal(at("tcpi_rtt"), 68);
    assert.equal(at("tcpi_total_retrans"), 100);
    assert.equal(at("tcpi_bytes_received"), 128);
    assert.equal(at("tcpi_min_rtt"), 148);
    assert.equal(at("tcpi_bytes_retrans"), 208);
    assert.equal(at("tcpi_rcv_ooopack"), 224);
    assert.equal(at("tcpi_snd_wnd"), 228);
    assert.equal(at("tcpi_rcv_wnd"), 232);
    assert.equal(at("tcpi_total_rto_time"), 244);
    assert.equal(STRUCT_SIZE, 280);
  });

  for (const length of [104, 168, 232, 248, 280]) {
    it(`decodes a ${length}-byte struct: fields inside present, fields beyond absent`, () => {
      const info = decodeLinuxTcpInfo(fixture(), length);
      assert.equal(info.platform, "linux");
      assert.equal(info.length, length);
      assert.equal(info.raw.length, length);
      assert.equal(info.state, "ESTABLISHED");
      const allowed = new Set<string>([
        "platform",
        "length",
        "raw",
        "state",
        "caStateName",
        "options",
        "sndWscale",
        "rcvWscale",
        ...(length >= 168 ? ["deliveryRateAppLimited", "fastopenClientFail"] : []),
      ]);
      LAYOUT.forEach((member, index) => {
        if (member.name === null) return;
        const record = info as unknown as Record<string, unknown>;
        if (member.offset + member.size <= length) {
          allowed.add(member.name);
          assert.equal(record[member.name], expectedValue(member, index), member.c);
        } else {
          assert.equal(member.name in info, false, `${member.c} must be absent at ${length}`);
        }
      });
      // Nothing else: no field from beyond the length under another name.
      assert.deepEqual(Object.keys(info).filter((key) => !allowed.has(key)), []);
    });
  }

  it("decodes the bitfields and option bits", () => {
    const info = decodeLinuxTcpInfo(fixture(), 280);
    assert.equal(info.sndWscale, 7);
    assert.equal(info.rcvWscale, 9);
    assert.equal(info.deliveryRateAppLimited, true);
    assert.equal(info.fastopenClientFail, 2);
    assert.deepEqual(info.options, {
      timestamps: true,
      sack: true,
      wscale: true,
      ecn: false,
      ecnSeen: false,
      synData: false,
      usecTs: false,
      tfoChild: false,
    });
    assert.equal(info.caState, 2);
    assert.equal(info.caStateName, "cwr");
  });

  it("leaves byte 7 undecoded below 168 bytes, where it was padding", () => {
    const info = decodeLinuxTcpInfo(fixture(), 160);
    assert.equal("deliveryRateAppLimited" in info, false);
    assert.equal("fastopenClientFail" in info, false);
    assert.equal(info.sndWscale, 7);
  });

  it("names states and congestion states", () => {
    const bytes = new Uint8Array(104);
    const names: [number, string][] = [[1, "ESTABLISHED"], [8, "CLOSE_WAIT"], [10, "LISTEN"], [
      6,
      "TIME_WAIT",
    ], [99, "UNKNOWN"]];
    for (const [number, name] of names) {
      bytes[0] = number;
      const info = decodeLinuxTcpInfo(bytes, 104);
      assert.equal(info.state, name);
      assert.equal(info.stateNumber, number);
    }
    bytes[1] = 4;
    assert.equal(decodeLinuxTcpInfo(bytes, 104).caStateName, "loss");
    bytes[1] = 3;
    assert.equal(decodeLinuxTcpInfo(bytes, 104).caStateName, "recovery");
  });

  it("reports unlimited pacing rates as Infinity, other u64 values exactly", () => {
    const bytes = fixture();
    const view = new DataView(bytes.buffer);
    view.setBigUint64(104, 0xffff_ffff_ffff_ffffn, true);
    view.setBigUint64(112, 0xffff_ffff_ffff_ffffn, true);
    view.setBigUint64(120, 2n ** 52n + 3n, true);
    const info = decodeLinuxTcpInfo(bytes, 280);
    assert.equal(info.pacingRate, Infinity);
    assert.equal(info.maxPacingRate, Infinity);
    assert.equal(info.bytesAcked, 2 ** 52 + 3);
  });

  it("keeps the raw bytes, including those a newer kernel adds past the known layout", () => {
    const info = decodeLinuxTcpInfo(fixture(), 300);
    assert.equal(info.raw.length, 300);
    assert.equal(info.raw[290], 0xee);
    assert.equal(info.receivedCeBytes, expectedValue(LAYOUT[65], 65));
    // A copy: changing the source afterwards does not change the reading.
    const source = fixture();
    const copy = decodeLinuxTcpInfo(source, 104);
    source[0] = 7;
    assert.equal(copy.raw[0], 1);
  });

  it("decodes big-endian bytes when told the byte order", () => {
    const bytes = fixture(false);
    bytes[6] = (7 << 4) | 9; // big-endian: the first bitfield member is the high nibble
    bytes[7] = 0b1100_0000; // app_limited = bit 7, fastopen_client_fail = bits 6..5 = 2
    const info = decodeLinuxTcpInfo(bytes, 280, { littleEndian: false });
    assert.equal(info.sndWscale, 7);
    assert.equal(info.rcvWscale, 9);
    assert.equal(info.deliveryRateAppLimited, true);
    assert.equal(info.fastopenClientFail, 2);
    const index = LAYOUT.findIndex((m) => m.c === "tcpi_bytes_acked");
    assert.equal(info.bytesAcked, valueOf(index, "u64"));
  });

  it("rejects a length outside the buffer", () => {
    assert.throws(() => decodeLinuxTcpInfo(new Uint8Array(10), 11), RangeError);
    assert.throws(() => decodeLinuxTcpInfo(new Uint8Array(10), -1), RangeError);
  });

  it("lists every decoded field in TCP_INFO_FIELDS with its unit", () => {
    const decoded = Object.keys(decodeLinuxTcpInfo(fixture(), 280)).filter(
      (key) => !["platform", "length", "raw"].includes(key),
    );
    const listed = TCP_INFO_FIELDS.map((field) => field.name as string);
    assert.deepEqual([...decoded].sort(), [...listed].sort());
    const unit = (name: string): string => TCP_INFO_FIELDS.find((f) => f.name === name)!.unit;
    for (const name of ["rto", "ato", "rtt", "rttVar", "rcvRtt", "minRtt", "busyTime"]) {
      assert.equal(unit(name), "µs", name);
    }
    for (const name of ["lastDataSent", "lastDataRecv", "lastAckRecv", "totalRtoTime"]) {
      assert.equal(unit(name), "ms", name);
    }
  });
});
