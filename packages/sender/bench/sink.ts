// The benchmark's sink, in its own process so the sender's CPU is measured alone: an
// smtp-server on loopback with STARTTLS and AUTH (what the sending policy requires) that accepts
// and counts every message. Prints its port; answers "count" over IPC. SINK_DELAY_MS holds each
// final reply back that long, as a server across a network would (providers answer DATA in
// tens of milliseconds); 0 is loopback at full speed.
import type net from "node:net";
import { SMTPServer } from "@imap-proxy/testing/smtp-faults";

const { cert, key } = JSON.parse(process.env.SINK_TLS!) as { cert: string; key: string };
const delayMs = Number(process.env.SINK_DELAY_MS ?? 0);
let accepted = 0;
const server = new SMTPServer({
  name: "sink.bench",
  cert,
  key,
  authMethods: ["PLAIN", "LOGIN"],
  logger: false,
  maxClients: 1000,
  onAuth(auth, _session, callback) {
    callback(null, { user: auth.username });
  },
  onData(stream, _session, callback) {
    stream.on("end", () => {
      accepted += 1;
      const reply = `2.0.0 Ok: queued as B${accepted}`;
      if (delayMs > 0) setTimeout(() => callback(null, reply), delayMs);
      else callback(null, reply);
    });
    stream.resume();
  },
});
server.on("error", () => {});
server.listen(0, "127.0.0.1", () => {
  process.send!({ port: (server.server.address() as net.AddressInfo).port });
});
process.on("message", () => process.send!({ accepted }));
process.on("disconnect", () => process.exit(0));
