public import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

/// The e-mail of an alert (RFC 5322): the title as subject, and a plain-text body with the
/// sentence, the fields, the link and the webhook JSON. The body is quoted-printable, so the
/// message is 7-bit with lines of at most 76 characters whatever the job's payload holds; a
/// subject that is not ASCII is RFC 2047-encoded. Lines end in CRLF.
public enum EmailMessage {
  /// The whole message (headers and body) of `text` at `at`, from `from` to `to`.
  public static func text(_ text: AlertText, from: String, to: [String], at: Timestamp) -> String {
    let t = text.transition
    let m = t.measurement
    let headers = [
      "From: \(from)",
      "To: \(to.joined(separator: ", "))",
      "Subject: \(encodedHeader("[drover] " + text.title))",
      "Date: \(rfc5322Date(at))",
      "Message-ID: <drover.\(at.micros).\(UInt32.random(in: 0...UInt32.max))@\(domain(of: from))>",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: quoted-printable",
      "X-Drover-Alert: \(m.key.kind.rawValue)",
      "X-Drover-State: \(t.state.rawValue)",
      "X-Drover-Severity: \(text.severity.rawValue)",
    ]
    var body = [
      text.message, "",
      "Alert:     \(m.key.kind.rawValue)",
      "State:     \(t.state.rawValue)",
      "Severity:  \(text.severity.rawValue)",
      "Pool:      \(m.pool ?? "-")",
      "Job:       \(m.job?["id"]?.intValue.map(String.init) ?? "-")",
      "Value:     \(m.value.render())",
      "Threshold: \(m.threshold.render())",
      "At:        \(at.rfc3339)",
    ]
    if let link = text.link { body.append("Link:      \(link)") }
    body += ["", "The alert as JSON:", AlertBody.json(t, at: at).render()]
    return headers.joined(separator: "\r\n") + "\r\n\r\n"
      + quotedPrintable(body.joined(separator: "\n")) + "\r\n"
  }

  /// `text` quoted-printable (RFC 2045): `\n` becomes a CRLF line break, `=` and bytes outside
  /// printable ASCII become `=XX`, a space or tab before a break is encoded, and lines longer
  /// than 76 characters get soft breaks.
  public static func quotedPrintable(_ text: String) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    var column = 0
    let bytes = Array(text.utf8)
    func emit(_ piece: [UInt8]) {
      if column + piece.count > 75 {
        out += Array("=\r\n".utf8)
        column = 0
      }
      out += piece
      column += piece.count
    }
    for (i, b) in bytes.enumerated() {
      if b == 0x0D { continue }
      if b == 0x0A {
        out += [0x0D, 0x0A]
        column = 0
        continue
      }
      let beforeBreak = i + 1 == bytes.count || bytes[i + 1] == 0x0A
      let literal = (b >= 33 && b <= 126 && b != 0x3D) || ((b == 0x20 || b == 0x09) && !beforeBreak)
      emit(literal ? [b] : [0x3D, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// A header value as it is when ASCII, else one RFC 2047 `=?utf-8?B?…?=` word per 45 bytes.
  static func encodedHeader(_ value: String) -> String {
    if value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return value }
    var words: [String] = []
    var chunk: [UInt8] = []
    for ch in value {
      let bytes = Array(String(ch).utf8)
      if chunk.count + bytes.count > 45 {
        words.append("=?utf-8?B?\(Base64.encode(chunk))?=")
        chunk = []
      }
      chunk += bytes.filter { $0 >= 0x20 }
    }
    if !chunk.isEmpty { words.append("=?utf-8?B?\(Base64.encode(chunk))?=") }
    return words.joined(separator: "\r\n ")
  }

  /// `Thu, 03 Dec 2026 12:16:20 +0000`.
  static func rfc5322Date(_ at: Timestamp) -> String {
    var t = time_t(at.micros / 1_000_000)
    var p = tm()
    gmtime_r(&t, &p)
    let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    let months = [
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return
      "\(days[Int(p.tm_wday)]), \(two(p.tm_mday)) \(months[Int(p.tm_mon)]) \(p.tm_year + 1900) "
      + "\(two(p.tm_hour)):\(two(p.tm_min)):\(two(p.tm_sec)) +0000"
  }

  static func domain(of address: String) -> String {
    address.split(separator: "@").last.map(String.init) ?? "drover"
  }
}

/// Base64 (RFC 4648, with padding): AUTH arguments and encoded header words.
enum Base64 {
  static func encode(_ bytes: [UInt8]) -> String {
    let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var out: [UInt8] = []
    var i = 0
    while i < bytes.count {
      let n = min(3, bytes.count - i)
      let b0 = bytes[i]
      let b1 = n > 1 ? bytes[i + 1] : 0
      let b2 = n > 2 ? bytes[i + 2] : 0
      out.append(table[Int(b0 >> 2)])
      out.append(table[Int((b0 & 0x3) << 4 | b1 >> 4)])
      out.append(n > 1 ? table[Int((b1 & 0xF) << 2 | b2 >> 6)] : 0x3D)
      out.append(n > 2 ? table[Int(b2 & 0x3F)] : 0x3D)
      i += 3
    }
    return String(decoding: out, as: UTF8.self)
  }

  static func encode(_ text: String) -> String { encode(Array(text.utf8)) }
}
