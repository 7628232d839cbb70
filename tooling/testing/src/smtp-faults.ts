// An smtp-server that answers each step the way a test asks: the sender's fault injector.
import type { SMTPServerSession } from "smtp-server";
import { SMTPServer } from "smtp-server";
import type { TestPki } from "./pki.ts";
import { type RunningServer, startSmtpServer } from "./smtp-server.ts";

/** A reply such as `{ code: 550, text: "5.1.1 No such user" }` (text starts with the enhanced status). */
export interface FaultReply {
  code: number;
  text: string;
}

/** What the server does at one step: answer with a reply, reset the connection, or go silent. */
export type FaultAction = FaultReply | "reset" | "hang";

export interface FaultPlan {
  /** Refuse the session at the greeting (`421 4.7.0 …`). */
  greeting?: FaultReply;
  /** `false`: no STARTTLS on offer (the downgrade bait). */
  starttls?: boolean;
  /** `other_host`: a certificate for another name (TLS failure). */
  certificate?: "trusted" | "other_host";
  /** `reject`: 535; `temporary`: 454; `unavailable`: no AUTH on offer. */
  auth?: "accept" | "reject" | "temporary" | "unavailable";
  /** EHLO SIZE limit in bytes. */
  size?: number;
  mailFrom?: FaultAction;
  rcptTo?: FaultAction;
  /**
   * After the final `.`: a reply (250 with a queue id by default), or `reset` / `hang` with the
   * message already taken in (it counts as received: the client must not send it again).
   */
  data?: FaultAction;
  /** Wait this long after the final `.` before answering it (a slow server: sends overlap). */
  dataDelayMs?: number;
}

export interface ReceivedMessage {
  from: string;
  to: string[];
  raw: Buffer;
}

export interface FaultServer extends RunningServer {
  /** Messages that reached the end of DATA, whatever the server answered. */
  received: ReceivedMessage[];
  /** Connections opened so far. */
  connections(): number;
  /** Connections open now, and the most ever open at once. */
  openConnections(): number;
  peakConnections(): number;
  /** Replace the plan for the next sessions. */
  setPlan(plan: FaultPlan): void;
}

const replyError = (reply: FaultReply) =>
  Object.assign(new Error(reply.text), { responseCode: reply.code });

export async function startFaultServer(
  pki: TestPki,
  initial: FaultPlan = {},
): Promise<FaultServer> {
  let plan = initial;
  let opened = 0;
  let open = 0;
  let peak = 0;
  const received: ReceivedMessage[] = [];
  const holder: { server?: SMTPServer } = {};
  // The socket of a session, to drop it or leave it hanging mid-transaction.
  const socketOf = (session: SMTPServerSession) => {
    for (const connection of (
      holder.server as unknown as { connections: Set<{ id: string; _socket: { destroy(): void } }> }
    ).connections) {
      if (connection.id === session.id) return connection._socket;
    }
    return undefined;
  };
  const act = (
    action: FaultAction | undefined,
    session: SMTPServerSession,
    callback: (error?: Error | null) => void,
  ) => {
    if (action === undefined) return callback();
    if (action === "hang") return;
    if (action === "reset") return socketOf(session)?.destroy();
    if (action.code < 400) return callback();
    callback(replyError(action));
  };
  const certificate = (initial.certificate ?? "trusted") === "trusted" ? pki.server : pki.otherHost;
  const running = await startSmtpServer({
    secure: false,
    ...certificate,
    disabledCommands: [
      ...(initial.starttls === false ? ["STARTTLS"] : []),
      ...(initial.auth === "unavailable" ? ["AUTH"] : []),
    ],
    ...(initial.size !== undefined ? { size: initial.size } : {}),
    onConnect(_session, callback) {
      opened += 1;
      open += 1;
      peak = Math.max(peak, open);
      if (plan.greeting) return callback(replyError(plan.greeting));
      callback();
    },
    ...(initial.auth === "reject" || initial.auth === "temporary"
      ? {
          onAuth(_auth, _session, callback) {
            callback(
              replyError(
                initial.auth === "reject"
                  ? { code: 535, text: "5.7.8 Authentication credentials invalid" }
                  : { code: 454, text: "4.7.0 Temporary authentication failure" },
              ),
            );
          },
        }
      : {}),
    onClose() {
      open -= 1;
    },
    onMailFrom(_address, session, callback) {
      act(plan.mailFrom, session, callback);
    },
    onRcptTo(_address, session, callback) {
      act(plan.rcptTo, session, callback);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
          callback(replyError({ code: 552, text: "5.3.4 Message too big" }));
          return;
        }
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        });
        const action = plan.data ?? { code: 250, text: `2.0.0 Ok: queued as Q${received.length}` };
        const answer = () => {
          if (action === "hang") return;
          if (action === "reset") return socketOf(session)?.destroy();
          if (action.code < 400) return callback(null, action.text);
          callback(replyError(action));
        };
        if (plan.dataDelayMs === undefined) answer();
        else setTimeout(answer, plan.dataDelayMs);
      });
    },
  });
  holder.server = running.server;
  return {
    ...running,
    received,
    connections: () => opened,
    openConnections: () => open,
    peakConnections: () => peak,
    setPlan(next) {
      plan = next;
    },
  };
}

export { SMTPServer };
