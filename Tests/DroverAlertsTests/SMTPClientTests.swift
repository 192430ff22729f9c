import DroverCore
import DroverTestSupport
import Foundation
import Logging
import Testing

@testable import DroverAlerts

/// A self-signed certificate for 127.0.0.1 made by the openssl CLI in `dir`.
func selfSignedCertificate(in dir: TempDirectory) throws -> (cert: String, key: String) {
  let cert = dir.file("cert.pem")
  let key = dir.file("key.pem")
  let p = Process()
  p.executableURL = URL(fileURLWithPath: openssl)
  p.arguments = [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1",
  ]
  p.standardOutput = FileHandle.nullDevice
  p.standardError = FileHandle.nullDevice
  try p.run()
  p.waitUntilExit()
  guard p.terminationStatus == 0 else {
    throw HarnessError("openssl req exited \(p.terminationStatus)")
  }
  return (cert, key)
}

let openssl = "/usr/bin/openssl"
let hasOpenSSL = FileManager.default.isExecutableFile(atPath: openssl)

/// The SMTP client against a real SMTP server on 127.0.0.1 (the test's sink).
@Suite struct SMTPClientTests {
  func config(_ sink: SMTPSink, _ edit: (inout EmailAlertsConfig) -> Void = { _ in })
    -> EmailAlertsConfig
  {
    var c = EmailAlertsConfig(
      host: "127.0.0.1", port: sink.port, from: "drover@test.example",
      to: ["ops@test.example", "oncall@test.example"], timeout: .seconds(10))
    edit(&c)
    return c
  }

  @Test func plainDialogueAndDotStuffing() throws {
    let sink = try SMTPSink()
    let client = SMTPClient(config: config(sink))
    let message = "Subject: x\r\n\r\n.hidden line\n..two dots\r\nbare\rcr\n.\nend"
    #expect(client.send(message) == .delivered)
    let m = try #require(sink.messages.first)
    #expect(m.from == "drover@test.example")
    #expect(m.to == ["ops@test.example", "oncall@test.example"])
    #expect(m.data == "Subject: x\r\n\r\n.hidden line\r\n..two dots\r\nbare\r\ncr\r\n.\r\nend")
    #expect(!m.tls)
    let verbs = sink.commands.map { String($0.prefix { $0 != " " && $0 != ":" }) }
    #expect(verbs == ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"])
    #expect(sink.commands[1] == "MAIL FROM:<drover@test.example>")
    #expect(sink.commands[3] == "RCPT TO:<oncall@test.example>")
  }

  /// An alert's e-mail through the channel: the sink gets the subject, headers and body; a
  /// 451 to the first DATA is retried.
  @Test func alertMailRetriedAfterA451() throws {
    let sink = try SMTPSink()
    sink.answerData([451])
    var alerts = AlertsConfig(webhooks: [])
    alerts.email = config(sink)
    alerts.linkBase = "http://drover.test:8080"
    let channels = AlertChannels(
      alerts: alerts, http: nil, options: fastOutbox(), logger: Logger(label: "t"))
    channels.start()
    defer { channels.stop() }
    let t = firing(.backlog, "slow", value: .int(12), threshold: .int(3))
    channels.send(t, at: Timestamp(micros: 1_800_000_000_000_000))
    try waitFor("delivered after the 451") { channels.counts["email"]?.delivered == 1 }
    #expect(channels.counts["email"]?.retries == 1)
    #expect(sink.commands.filter { $0 == "DATA" }.count == 2)
    let m = try #require(sink.messages.first)
    #expect(m.header("Subject") == "[drover] WARNING backlog firing: pool slow")
    #expect(m.header("From") == "drover@test.example")
    #expect(m.header("To") == "ops@test.example, oncall@test.example")
    #expect(m.header("Date") == "Fri, 15 Jan 2027 08:00:00 +0000")
    #expect(m.header("Content-Transfer-Encoding") == "quoted-printable")
    #expect(m.header("X-Drover-Severity") == "warning")
    let body = m.body.replacingOccurrences(of: "=\r\n", with: "")
      .replacingOccurrences(of: "=3D", with: "=")
    #expect(body.hasPrefix("pool slow has 12 ready jobs (alert above 3)\r\n"))
    #expect(body.contains("Link:      http://drover.test:8080/pools\r\n"))
    #expect(body.contains(#"{"alert":"backlog","state":"firing","pool":"slow""#))
    #expect(m.data.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 78 })
  }

  @Test func refusals() throws {
    let sink = try SMTPSink()
    // starttls = "always" against a server that does not offer it.
    let always = SMTPClient(config: config(sink) { $0.startTLS = .always })
    #expect(
      always.send("x") == .reject("the server does not offer STARTTLS (starttls = \"always\")"))
    // AUTH never goes over plain text.
    let dir = try TempDirectory()
    try "pw\n".write(toFile: dir.file("pw"), atomically: true, encoding: .utf8)
    let auth = SMTPClient(
      config: config(sink) {
        $0.username = "u"
        $0.passwordFile = dir.file("pw")
      })
    #expect(auth.send("x") == .reject("AUTH needs TLS, and the server does not offer STARTTLS"))
    #expect(!sink.commands.contains { $0.hasPrefix("AUTH") })
    #expect(sink.messages.isEmpty)
    // Nobody listening: worth a retry.
    sink.stop()
    let port = sink.port
    SupervisorHarness.pause(.milliseconds(100))
    let gone = SMTPClient(
      config: EmailAlertsConfig(host: "127.0.0.1", port: port, from: "a@b", to: ["c@d"]))
    guard case .retry(let why) = gone.send("x") else {
      Issue.record("a refused connection is retried")
      return
    }
    #expect(why.hasPrefix("cannot connect"))
  }

  /// STARTTLS with a self-signed certificate (trusted through ca_file), EHLO again over TLS,
  /// then AUTH PLAIN; the message arrives over TLS. Without the CA the certificate fails.
  @Test(.enabled(if: hasOpenSSL, "needs the openssl CLI (/usr/bin/openssl) to make a certificate"))
  func startTLSThenAuth() throws {
    let dir = try TempDirectory()
    let (cert, key) = try selfSignedCertificate(in: dir)
    try "s3cret \n".write(toFile: dir.file("pw"), atomically: true, encoding: .utf8)
    let sink = try SMTPSink(certificate: cert, key: key)
    let client = SMTPClient(
      config: config(sink) {
        $0.startTLS = .always
        $0.caFile = cert
        $0.username = "drover"
        $0.passwordFile = dir.file("pw")
      })
    #expect(client.send("Subject: tls\r\n\r\nover TLS\r\n") == .delivered)
    let m = try #require(sink.messages.first)
    #expect(m.tls)
    #expect(m.auth == "drover:s3cret")
    #expect(m.data == "Subject: tls\r\n\r\nover TLS")
    let verbs = sink.commands.map { String($0.prefix { $0 != " " && $0 != ":" }) }
    #expect(verbs == ["EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"])

    // The system's roots do not know the certificate: the handshake fails, worth a retry
    // (the server may be fixed), and nothing is sent in plain text.
    let untrusted = SMTPClient(config: config(sink) { $0.startTLS = .auto })
    guard case .retry(let why) = untrusted.send("Subject: no\r\n\r\nno\r\n") else {
      Issue.record("an untrusted certificate is a failure")
      return
    }
    #expect(why.lowercased().contains("certificate"), "\(why)")
    #expect(sink.messages.count == 1)

    // A CA file that cannot be read: refused (no retry mends it), nothing sent.
    let noCA = SMTPClient(config: config(sink) { $0.caFile = dir.file("missing.pem") })
    guard case .reject(let refusal) = noCA.send("Subject: no\r\n\r\nno\r\n") else {
      Issue.record("a missing ca_file is refused")
      return
    }
    #expect(refusal.hasPrefix("cannot load the TLS settings (ca_file?)"), "\(refusal)")
    #expect(sink.messages.count == 1)

    // A server that offers AUTH LOGIN only: user and password in two steps.
    let loginOnly = try SMTPSink(certificate: cert, key: key, auth: ["LOGIN"])
    let login = SMTPClient(
      config: config(loginOnly) {
        $0.caFile = cert
        $0.username = "drover"
        $0.passwordFile = dir.file("pw")
      })
    #expect(login.send("Subject: login\r\n\r\nx\r\n") == .delivered)
    #expect(loginOnly.messages.first?.auth == "drover:s3cret")
    #expect(loginOnly.messages.first?.tls == true)
    #expect(loginOnly.commands.contains("AUTH LOGIN"))
    #expect(!loginOnly.commands.contains { $0.contains("s3cret") }, "the password is base64")
  }

  /// A server that accepts and never greets: the wait ends at the timeout, worth a retry.
  @Test func silentServerTimesOut() throws {
    let sink = try SMTPSink(silent: true)
    let client = SMTPClient(config: config(sink) { $0.timeout = .seconds(1) })
    let start = ContinuousClock.now
    #expect(client.send("x") == .retry("no answer to the greeting within 1000 ms"))
    #expect(ContinuousClock.now - start < .seconds(10))
  }

  @Test func encodings() {
    #expect(Base64.encode("") == "")
    #expect(Base64.encode("f") == "Zg==")
    #expect(Base64.encode("fo") == "Zm8=")
    #expect(Base64.encode("foobar") == "Zm9vYmFy")
    #expect(Base64.encode([0] + Array("u".utf8) + [0] + Array("p".utf8)) == "AHUAcA==")
    #expect(EmailMessage.quotedPrintable("a=b \nü\t\n") == "a=3Db=20\r\n=C3=BC=09\r\n")
    let long = EmailMessage.quotedPrintable(String(repeating: "x", count: 200))
    #expect(long.components(separatedBy: "\r\n").allSatisfy { $0.count <= 76 })
    #expect(long.replacingOccurrences(of: "=\r\n", with: "") == String(repeating: "x", count: 200))
    #expect(EmailMessage.encodedHeader("plain") == "plain")
    #expect(EmailMessage.encodedHeader("pool é") == "=?utf-8?B?cG9vbCDDqQ==?=")
    #expect(SMTPClient.dotStuffed(".a\n.\nb") == Array("..a\r\n..\r\nb\r\n.\r\n".utf8))
  }
}
