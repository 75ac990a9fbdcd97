// httpstat --trace's timeline lines, on events built by hand.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConnectDoneEvent, DnsDoneEvent, RedirectEvent } from "../../mod.ts";
import { eventFields, traceLine } from "../../src/cli/trace_log.ts";
import { stampNext } from "../../src/trace/events.ts";

const subject = { requestId: 7, method: "GET", url: "http://example.test/" };

describe("trace timeline lines", () => {
  it("shows the time from the start, the type, the connection and the event's own fields", () => {
    stampNext(1012.5);
    const event = new ConnectDoneEvent(subject, "tcp4", "127.0.0.1:8080", undefined);
    const line = traceLine(event, 1000);
    assert.equal(
      line,
      "+   12.500 ms  connectdone               network=tcp4 address=127.0.0.1:8080",
    );
  });

  it("formats arrays, booleans, errors and leaves out the common fields", () => {
    stampNext(5);
    const done = new DnsDoneEvent(subject, ["::1", "127.0.0.1"], undefined, true, false);
    assert.equal(eventFields(done), "addresses=[::1,127.0.0.1] coalesced=true cached=false");
    stampNext(5);
    const failed = new DnsDoneEvent(subject, [], new Error("no such host"), false, false);
    assert.equal(
      eventFields(failed),
      'addresses=[] error="no such host" coalesced=false cached=false',
    );
    stampNext(5);
    const redirect = new RedirectEvent(subject, 302, "http://a.test/", "http://b.test/x y");
    assert.equal(
      eventFields(redirect),
      'status=302 from=http://a.test/ to="http://b.test/x y"',
    );
  });
});
