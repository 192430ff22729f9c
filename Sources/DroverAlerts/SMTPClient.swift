public import DroverCore
import NIOSSL

#if canImport(Glibc)
  import Glibc
#endif

/// Sends one message per call over SMTP (RFC 5321), as `[alerts.email]` says: EHLO (HELO for
/// a server that refuses it), STARTTLS when offered (`auto`) or required (`always`), then EHLO
/// again; AUTH PLAIN (else LOGIN) over TLS only; MAIL FROM, RCPT TO each recipient, DATA with
/// the message dot-stuffed and every line ended in CRLF; QUIT. Each wait is bounded by the
/// config's timeout. A 4xx reply, a timeout or a broken connection is worth a retry; a 5xx
/// reply (the server refused the sender, a recipient, the message or the credentials) or a
/// missing STARTTLS the config requires is not.
public final class SMTPClient: Sendable {
  let config: EmailAlertsConfig
  let tls: Result<NIOSSLContext, SMTPError>

  /// A client for `config` (the CA file is read here: a bad one fails every delivery, logged).
  public init(config: EmailAlertsConfig) {
    self.config = config
    var t = TLSConfiguration.makeClientConfiguration()
    if let ca = config.caFile { t.trustRoots = .file(ca) }
    do {
      tls = .success(try NIOSSLContext(configuration: t))
    } catch {
      tls = .failure(SMTPError("cannot load the TLS settings (ca_file?): \(error)"))
    }
  }

  /// `smtp://host:port`, for logs.
  public var name: String { "email (smtp://\(config.host):\(config.port))" }

  /// One delivery of `message` (RFC 5322 text; lines may end in LF or CRLF).
  public func send(_ message: String) -> DeliveryOutcome {
    let c: SMTPConnection
    do {
      c = try SMTPConnection.connect(host: config.host, port: config.port, timeout: config.timeout)
    } catch {
      return .retry("cannot connect: \(error)")
    }
    defer { c.close() }
    do {
      return try dialogue(c, message)
    } catch let e as Refusal {
      return .reject(e.text)
    } catch {
      return .retry("\(error)")
    }
  }

  /// A failure no retry mends.
  struct Refusal: Error { var text: String }

  private func dialogue(_ c: SMTPConnection, _ message: String) throws -> DeliveryOutcome {
    try expect(c.reply(to: "the greeting"), 220, "the greeting")
    var ext = try hello(c)
    var secure = false
    if ext.contains("STARTTLS") && config.startTLS != .never {
      try expect(c.command("STARTTLS"), 220, "STARTTLS")
      // A CA file that cannot be loaded stays so until a reload: no retry mends it.
      let context = try tls.mapError { Refusal(text: $0.description) }.get()
      let isIP = config.host.contains(":") || config.host.allSatisfy { $0.isNumber || $0 == "." }
      try c.startTLS(context, serverHostname: isIP ? nil : config.host)
      ext = try hello(c)
      secure = true
    } else if config.startTLS == .always {
      throw Refusal(text: "the server does not offer STARTTLS (starttls = \"always\")")
    }
    if let user = config.username {
      guard secure else {
        throw Refusal(text: "AUTH needs TLS, and the server does not offer STARTTLS")
      }
      try authenticate(c, user: user, extensions: ext)
    }
    try expect(c.command("MAIL FROM:<\(config.from)>"), 250, "MAIL FROM")
    for rcpt in config.to {
      let r = try c.command("RCPT TO:<\(rcpt)>")
      guard r.code == 250 || r.code == 251 else {
        _ = try? c.command("RSET")
        throw failure(r, "RCPT TO:<\(rcpt)>")
      }
    }
    try expect(c.command("DATA"), 354, "DATA")
    c.write(Self.dotStuffed(message))
    try expect(c.reply(to: "the message"), 250, "the message")
    _ = try? c.command("QUIT")
    return .delivered
  }

  /// EHLO, or HELO when the server refuses EHLO; the extension keywords it listed (upper
  /// case: `STARTTLS`, `AUTH PLAIN LOGIN`, …).
  private func hello(_ c: SMTPConnection) throws -> [String] {
    let name = Self.heloName()
    let r = try c.command("EHLO \(name)")
    if r.code == 250 { return r.lines.dropFirst().map { $0.uppercased() } }
    try expect(c.command("HELO \(name)"), 250, "HELO")
    return []
  }

  private func authenticate(_ c: SMTPConnection, user: String, extensions: [String]) throws {
    let mechanisms =
      extensions.first { $0.hasPrefix("AUTH ") || $0.hasPrefix("AUTH=") }?
      .dropFirst(5).split(separator: " ").map(String.init) ?? []
    let password = try readPassword()
    if mechanisms.contains("PLAIN") {
      let token = Base64.encode([0] + Array(user.utf8) + [0] + Array(password.utf8))
      try expect(c.command("AUTH PLAIN \(token)", shown: "AUTH PLAIN"), 235, "AUTH PLAIN")
    } else if mechanisms.contains("LOGIN") {
      try expect(c.command("AUTH LOGIN"), 334, "AUTH LOGIN")
      try expect(c.command(Base64.encode(user), shown: "the AUTH LOGIN user"), 334, "AUTH LOGIN")
      try expect(
        c.command(Base64.encode(password), shown: "the AUTH LOGIN password"), 235, "AUTH LOGIN")
    } else {
      throw Refusal(
        text:
          "the server offers no AUTH PLAIN or LOGIN (it offers \(mechanisms.joined(separator: " ")))"
      )
    }
  }

  /// The first line of `password_file`, surrounding whitespace trimmed.
  private func readPassword() throws -> String {
    guard let path = config.passwordFile else { throw Refusal(text: "no password_file") }
    guard let f = fopen(path, "r") else {
      throw Refusal(text: "cannot read password_file \(path): \(String(cString: strerror(errno)))")
    }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    while bytes.count < 4096 {
      let ch = fgetc(f)
      if ch == EOF || ch == 0x0A { break }
      bytes.append(UInt8(ch))
    }
    let line = String(decoding: bytes, as: UTF8.self)
    let trimmed = line.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed()
    guard !trimmed.isEmpty else { throw Refusal(text: "password_file \(path) is empty") }
    return String(trimmed)
  }

  private func expect(_ r: SMTPReply, _ code: Int, _ what: String) throws {
    guard r.code != code else { return }
    throw failure(r, what)
  }

  /// A 5xx is refused for good, anything else may pass on a later try.
  private func failure(_ r: SMTPReply, _ what: String) -> any Error {
    let text = "\(what) answered \(r.summary)"
    return r.code >= 500 ? Refusal(text: text) : SMTPError(text)
  }

  /// `message` as DATA sends it: every line ended in CRLF, a line that starts with `.` given
  /// another `.` (RFC 5321 §4.5.2), then the `.` line that ends it.
  static func dotStuffed(_ message: String) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(message.utf8.count + 64)
    var line: [UInt8] = []
    func end() {
      if line.first == 0x2E { out.append(0x2E) }
      out += line
      out += [0x0D, 0x0A]
      line.removeAll(keepingCapacity: true)
    }
    // CRLF, a bare LF and a bare CR each end a line: none can end the data early.
    var afterCR = false
    for b in message.utf8 {
      switch b {
      case 0x0D:
        end()
        afterCR = true
      case 0x0A:
        if !afterCR { end() }
        afterCR = false
      default:
        afterCR = false
        line.append(b)
      }
    }
    if !line.isEmpty { end() }
    return out + Array(".\r\n".utf8)
  }

  /// This host's name for EHLO, or an address literal when it has none usable.
  static func heloName() -> String {
    var buf = [CChar](repeating: 0, count: 256)
    guard gethostname(&buf, 255) == 0 else { return "[127.0.0.1]" }
    let name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let ok =
      !name.isEmpty
      && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
    return ok ? name : "[127.0.0.1]"
  }
}
