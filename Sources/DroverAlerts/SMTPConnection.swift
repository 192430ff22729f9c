import DroverCore
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// One reply of an SMTP server: its code and its lines (the text after `250-` / `250 `).
struct SMTPReply: Sendable, Hashable {
  var code: Int
  var lines: [String]
  /// `250 ok`, or the first line only of a long reply.
  var summary: String { "\(code) \(lines.first ?? "")" }
}

/// Why an SMTP exchange ended early.
struct SMTPError: Error, CustomStringConvertible {
  var description: String
  init(_ text: String) { description = text }
}

/// A blocking SMTP connection for one delivery thread, over NIO: `command` writes a line and
/// waits for the reply, each wait bounded by `timeout` (after which the connection is closed).
/// `startTLS` puts a TLS client in front of the pipeline after the server's `220` to STARTTLS.
/// Every touch of the pipeline happens on the channel's event loop.
final class SMTPConnection: Sendable {
  let channel: any Channel
  let timeout: Duration
  /// The first failure the handler saw: still known once a close has torn the pipeline down
  /// (a TLS handshake that fails before the next wait starts).
  let failure: SMTPFailureBox

  private init(channel: any Channel, timeout: Duration, failure: SMTPFailureBox) {
    self.channel = channel
    self.timeout = timeout
    self.failure = failure
  }

  /// Connects to `host:port` within `timeout`.
  static func connect(host: String, port: Int, timeout: Duration) throws -> SMTPConnection {
    let failure = SMTPFailureBox()
    let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connectTimeout(.nanoseconds(timeout.saturatingNanoseconds))
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(SMTPReplyHandler(failure))
        }
      }
    let channel = try bootstrap.connect(host: host, port: port).wait()
    return SMTPConnection(channel: channel, timeout: timeout, failure: failure)
  }

  /// The next reply (the greeting, or the answer to what was written).
  func reply(to what: String) throws -> SMTPReply {
    let channel = self.channel
    let failure = self.failure
    let ns = timeout.saturatingNanoseconds
    return try channel.eventLoop.flatSubmit {
      do {
        return try channel.pipeline.syncOperations.handler(type: SMTPReplyHandler.self)
          .next(what: what, timeout: .nanoseconds(ns), context: channel)
      } catch {
        return channel.eventLoop.makeFailedFuture(
          failure.first ?? SMTPError("connection closed before \(what)"))
      }
    }.wait()
  }

  /// Writes `bytes` (whole lines, CRLF included) without waiting for them to leave.
  func write(_ bytes: [UInt8]) {
    channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
  }

  /// Writes `line` and CRLF, then waits for the reply; `shown` names it in errors (a password
  /// is never shown).
  func command(_ line: String, shown: String? = nil) throws -> SMTPReply {
    write(Array((line + "\r\n").utf8))
    return try reply(to: shown ?? line)
  }

  /// Puts TLS in front (after the server's 220 to STARTTLS): `serverHostname` for SNI and
  /// the name check, nil for an IP address (then the certificate must name that address).
  /// Refuses bytes that arrived after the 220 in plain text: they would be taken as if they
  /// came over TLS (the STARTTLS injection of CVE-2011-0411).
  func startTLS(_ context: NIOSSLContext, serverHostname: String?) throws {
    let channel = self.channel
    try channel.eventLoop.submit {
      let handler = try channel.pipeline.syncOperations.handler(type: SMTPReplyHandler.self)
      guard handler.isIdle else {
        throw SMTPError("the server sent data after its 220 to STARTTLS; not trusted")
      }
      let tls = try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
      try channel.pipeline.syncOperations.addHandler(tls, position: .first)
    }.wait()
  }

  /// Closes the connection (harmless twice).
  func close() {
    _ = try? channel.close().wait()
  }
}

/// Collects the server's lines into replies and hands each to the one waiting `next` (the
/// client never pipelines). A wait that outlasts its timeout, a connection closed, an error
/// (a TLS failure among them) or a line longer than 64 KiB fails the wait and closes.
final class SMTPReplyHandler: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer

  private var buffer: [UInt8] = []
  private var lines: [String] = []
  private var code = 0
  private var ready: [SMTPReply] = []
  private var waiter: (promise: EventLoopPromise<SMTPReply>, what: String, timer: Scheduled<Void>)?
  private var failure: SMTPError?
  private let box: SMTPFailureBox

  init(_ box: SMTPFailureBox) { self.box = box }

  /// Nothing buffered and no reply unread.
  var isIdle: Bool { buffer.isEmpty && ready.isEmpty && lines.isEmpty }

  /// The next reply, failed after `timeout`. On the event loop.
  func next(what: String, timeout: TimeAmount, context channel: any Channel)
    -> EventLoopFuture<SMTPReply>
  {
    if !ready.isEmpty { return channel.eventLoop.makeSucceededFuture(ready.removeFirst()) }
    if let failure { return channel.eventLoop.makeFailedFuture(failure) }
    let promise = channel.eventLoop.makePromise(of: SMTPReply.self)
    let timer = channel.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
      self.fail(SMTPError("no answer to \(what) within \(timeout.nanoseconds / 1_000_000) ms"))
      channel.close(promise: nil)
    }
    waiter = (promise, what, timer)
    return promise.futureResult
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var bytes = unwrapInboundIn(data)
    buffer += bytes.readBytes(length: bytes.readableBytes) ?? []
    while let lf = buffer.firstIndex(of: 0x0A) {
      var line = Array(buffer[..<lf])
      buffer.removeFirst(lf + 1)
      if line.last == 0x0D { line.removeLast() }
      take(String(decoding: line, as: UTF8.self))
    }
    if buffer.count > 65536 {
      fail(SMTPError("the server sent a line longer than 64 KiB"))
      context.close(promise: nil)
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    fail(SMTPError("the server closed the connection"))
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    fail(SMTPError("\(error)"))
    context.close(promise: nil)
  }

  /// One line: `250-more` continues a reply, `250 last` (or `250`) ends it.
  private func take(_ line: String) {
    let digits = line.prefix(3)
    guard digits.count == 3, let n = Int(digits), (200...599).contains(n) else {
      fail(SMTPError("the server sent a line that is no SMTP reply: \(line.prefix(80))"))
      return
    }
    code = n
    let rest = line.dropFirst(3)
    lines.append(String(rest.dropFirst()))
    guard rest.first != "-" else { return }
    let reply = SMTPReply(code: code, lines: lines)
    lines = []
    if let w = waiter {
      waiter = nil
      w.timer.cancel()
      w.promise.succeed(reply)
    } else {
      ready.append(reply)
    }
  }

  private func fail(_ error: SMTPError) {
    if failure == nil {
      failure = error
      box.record(error)
    }
    if let w = waiter {
      waiter = nil
      w.timer.cancel()
      w.promise.fail(failure ?? error)
    }
  }
}

/// The first failure of a connection, readable from the delivery thread.
final class SMTPFailureBox: Sendable {
  private let value = Mutex<SMTPError?>(nil)
  /// Keeps `error` unless one came first.
  func record(_ error: SMTPError) { value.withLock { if $0 == nil { $0 = error } } }
  /// The first failure, if any.
  var first: SMTPError? { value.withLock { $0 } }
}
