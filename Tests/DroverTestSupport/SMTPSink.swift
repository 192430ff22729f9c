import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A real SMTP server on 127.0.0.1 (an ephemeral port) that takes every message and records
/// it with the commands it was sent: the mail end of alert tests. It speaks ESMTP as a real
/// relay does: a 220 greeting, EHLO (with STARTTLS offered when it has a certificate, and
/// AUTH PLAIN and LOGIN offered over TLS only), MAIL FROM, RCPT TO, DATA (the dot-stuffing
/// undone), RSET, NOOP and QUIT. Scripted codes can answer the next messages (a 451 to test
/// retries). Stops with `stop()` or when dropped.
public final class SMTPSink: Sendable {
  /// One message as received.
  public struct Message: Sendable {
    /// The address of `MAIL FROM:<…>`.
    public var from: String
    /// The addresses of each `RCPT TO:<…>`.
    public var to: [String]
    /// The data with the dot-stuffing undone, lines joined by CRLF (the final `.` not in it).
    public var data: String
    /// Whether it came over TLS.
    public var tls: Bool
    /// `user:password` when the session authenticated.
    public var auth: String?
    /// The data's header named `name` (case-insensitive), unfolded.
    public func header(_ name: String) -> String? {
      let head = data.components(separatedBy: "\r\n\r\n").first ?? ""
      let unfolded = head.replacingOccurrences(of: "\r\n ", with: " ")
      for line in unfolded.components(separatedBy: "\r\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        if line[..<colon].lowercased() == name.lowercased() {
          return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
      }
      return nil
    }
    /// The body: what follows the blank line after the headers.
    public var body: String {
      guard let r = data.range(of: "\r\n\r\n") else { return "" }
      return String(data[r.upperBound...])
    }
  }

  final class Recorder: Sendable {
    let messages = Mutex<[Message]>([])
    let commands = Mutex<[String]>([])
    let dataReplies = Mutex<[Int]>([])
  }

  /// The port it listens on, on 127.0.0.1.
  public let port: Int
  let recorder = Recorder()
  let channel: any Channel

  /// Listens on 127.0.0.1; with `certificate` and `key` (PEM files) it offers STARTTLS, and
  /// `auth` once over TLS. A `silent` sink accepts connections and never says a word (a
  /// server that hangs).
  public init(
    certificate: String? = nil, key: String? = nil, auth: [String] = ["PLAIN", "LOGIN"],
    silent: Bool = false
  ) throws {
    var tls: NIOSSLContext?
    if let certificate, let key {
      let config = TLSConfiguration.makeServerConfiguration(
        certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
        privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
      tls = try NIOSSLContext(configuration: config)
    }
    let recorder = self.recorder
    let context = tls
    channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { child in
        child.eventLoop.makeCompletedFuture {
          try child.pipeline.syncOperations.addHandler(
            SMTPSinkHandler(recorder: recorder, tls: context, auth: auth, silent: silent))
        }
      }
      .bind(host: "127.0.0.1", port: 0).wait()
    port = channel.localAddress?.port ?? 0
  }

  deinit { stop() }

  /// Stops listening (open sessions end when their client quits).
  public func stop() { channel.close(promise: nil) }

  /// Every message so far, in arrival order.
  public var messages: [Message] { recorder.messages.withLock { $0 } }

  /// Every command line so far, in arrival order (AUTH arguments as sent).
  public var commands: [String] { recorder.commands.withLock { $0 } }

  /// Answers the data of the next messages with `codes` (250 once used up); a code other
  /// than 250 drops that message.
  public func answerData(_ codes: [Int]) { recorder.dataReplies.withLock { $0 += codes } }
}

/// One session of the sink, on its channel's event loop.
final class SMTPSinkHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  let recorder: SMTPSink.Recorder
  let tls: NIOSSLContext?
  let mechanisms: [String]
  let silent: Bool
  var buffer: [UInt8] = []
  var secure = false
  var from: String?
  var to: [String] = []
  var data: [String]?
  var auth: String?
  /// Inside AUTH LOGIN: the user once given.
  var login: (step: Int, user: String)?

  init(recorder: SMTPSink.Recorder, tls: NIOSSLContext?, auth: [String], silent: Bool) {
    self.recorder = recorder
    self.tls = tls
    self.mechanisms = auth
    self.silent = silent
  }

  func channelActive(context: ChannelHandlerContext) {
    if !silent { reply(context, "220 sink.test ESMTP ready") }
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var bytes = unwrapInboundIn(data)
    buffer += bytes.readBytes(length: bytes.readableBytes) ?? []
    while let lf = buffer.firstIndex(of: 0x0A) {
      var line = Array(buffer[..<lf])
      buffer.removeFirst(lf + 1)
      guard line.last == 0x0D else {
        reply(context, "500 bare LF")
        continue
      }
      line.removeLast()
      handle(context, String(decoding: line, as: UTF8.self))
    }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }

  private func reply(_ context: ChannelHandlerContext, _ text: String) {
    context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text + "\r\n")), promise: nil)
  }

  private func handle(_ context: ChannelHandlerContext, _ line: String) {
    if var lines = data {
      if line == "." {
        self.data = nil
        let code = recorder.dataReplies.withLock { $0.isEmpty ? 250 : $0.removeFirst() }
        if code == 250 {
          let m = SMTPSink.Message(
            from: from ?? "", to: to, data: lines.joined(separator: "\r\n"), tls: secure,
            auth: auth)
          recorder.messages.withLock { $0.append(m) }
          reply(context, "250 queued")
        } else {
          reply(context, "\(code) not now")
        }
        from = nil
        to = []
      } else {
        lines.append(line.hasPrefix(".") ? String(line.dropFirst()) : line)
        data = lines
      }
      return
    }
    recorder.commands.withLock { $0.append(line) }
    if let l = login {
      let decoded = String(decoding: Data(base64Encoded: line) ?? Data(), as: UTF8.self)
      if l.step == 1 {
        login = (2, decoded)
        reply(context, "334 UGFzc3dvcmQ6")
      } else {
        login = nil
        auth = "\(l.user):\(decoded)"
        reply(context, "235 ok")
      }
      return
    }
    let verb = line.prefix { $0 != " " && $0 != ":" }.uppercased()
    switch verb {
    case "EHLO":
      var lines = ["sink.test hello", "8BITMIME"]
      if tls != nil && !secure { lines.append("STARTTLS") }
      if secure && !mechanisms.isEmpty {
        lines.append("AUTH " + mechanisms.joined(separator: " "))
      }
      for (i, l) in lines.enumerated() {
        reply(context, "250\(i == lines.count - 1 ? " " : "-")\(l)")
      }
    case "HELO": reply(context, "250 sink.test")
    case "STARTTLS":
      guard let tls, !secure else { return reply(context, "454 TLS not available") }
      // The 220 goes out in plain text; everything after it through TLS.
      reply(context, "220 go ahead")
      secure = true
      buffer = []
      try? context.pipeline.syncOperations.addHandler(
        NIOSSLServerHandler(context: tls), position: .first)
    case "AUTH":
      guard secure else { return reply(context, "538 encryption required") }
      let parts = line.split(separator: " ")
      let mechanism = parts.count >= 2 ? parts[1].uppercased() : ""
      guard mechanisms.contains(mechanism) else { return reply(context, "504 unknown mechanism") }
      if parts.count >= 3, mechanism == "PLAIN" {
        let raw = Data(base64Encoded: String(parts[2])) ?? Data()
        let fields = raw.split(separator: 0, omittingEmptySubsequences: false).map {
          String(decoding: $0, as: UTF8.self)
        }
        auth = fields.count == 3 ? "\(fields[1]):\(fields[2])" : "?"
        reply(context, "235 ok")
      } else if mechanism == "LOGIN" {
        login = (1, "")
        reply(context, "334 VXNlcm5hbWU6")
      } else {
        reply(context, "504 unknown mechanism")
      }
    case "MAIL":
      from = Self.address(line)
      reply(context, "250 ok")
    case "RCPT":
      guard from != nil else { return reply(context, "503 MAIL first") }
      to.append(Self.address(line))
      reply(context, "250 ok")
    case "DATA":
      guard from != nil, !to.isEmpty else { return reply(context, "503 RCPT first") }
      data = []
      reply(context, "354 end with .")
    case "RSET":
      from = nil
      to = []
      reply(context, "250 ok")
    case "NOOP": reply(context, "250 ok")
    case "QUIT":
      reply(context, "221 bye")
      context.close(promise: nil)
    default: reply(context, "500 unknown command")
    }
  }

  /// `x@y` of `MAIL FROM:<x@y>` or `RCPT TO:<x@y>`.
  static func address(_ line: String) -> String {
    guard let open = line.firstIndex(of: "<"), let close = line.lastIndex(of: ">") else {
      return ""
    }
    return String(line[line.index(after: open)..<close])
  }
}
