import DroverCore
import Hummingbird
import NIOCore

/// Reading bodies and query strings into checked values: size (413), content type (415),
/// UTF-8 and JSON (400), and errors that name the field.
enum RequestInput {
  /// The body as text, at most `limit` bytes, of one of `types` (`application/json`, …).
  static func body(
    _ request: Request, limit: Int, types: Set<String>
  ) async throws -> (text: String, type: String) {
    let raw = request.headers[.contentType] ?? ""
    let type = String(raw.prefix { $0 != ";" }.filter { $0 != " " && $0 != "\t" }).lowercased()
    guard types.contains(type) else {
      throw APIError(
        .unsupportedMediaType,
        "Content-Type must be " + types.sorted().joined(separator: " or ")
          + (raw.isEmpty ? " (none given)" : ", got \(raw)"), field: "Content-Type")
    }
    if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
      throw tooLarge(limit)
    }
    let buffer: ByteBuffer
    do { buffer = try await request.body.collect(upTo: limit) } catch { throw tooLarge(limit) }
    guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
      throw APIError.badRequest("the body is not valid UTF-8")
    }
    return (text, type)
  }

  static func tooLarge(_ limit: Int) -> APIError {
    APIError(.contentTooLarge, "the body is larger than \(limit) bytes")
  }

  /// One JSON value (the project's parser: numbers keep their text, a repeated key or invalid
  /// UTF-8 is refused).
  static func json(_ text: String, line: Int? = nil) throws -> JSONValue {
    do { return try JSONValue.parse(text) } catch {
      throw APIError.badRequest((line.map { "line \($0): " } ?? "") + error.description)
    }
  }

  /// A JSON object body, for routes that take one.
  static func object(_ request: Request, limit: Int) async throws -> JSONValue {
    let (text, _) = try await body(request, limit: limit, types: ["application/json"])
    let v = try json(text)
    guard v.objectValue != nil else {
      throw APIError.badRequest("the body must be a JSON object, got \(v.kindName)")
    }
    return v
  }

  /// Query parameters, refusing a key twice or a key not in `known` (a `payload.` prefix is
  /// allowed where `payloadPrefix`).
  /// A `true|false` query parameter (absent: false); anything else is a 400 naming it.
  static func flag(_ q: [String: String], _ name: String) throws -> Bool {
    switch q[name] {
    case nil, "false"?: return false
    case "true"?: return true
    case let v?:
      throw APIError.badRequest("\(name) must be true or false, not \"\(v)\"", field: name)
    }
  }

  static func query(
    _ request: Request, known: Set<String>, payloadPrefix: Bool = false
  ) throws -> [String: String] {
    var out: [String: String] = [:]
    for (k, v) in request.uri.queryParameters {
      let key = String(k)
      guard known.contains(key) || (payloadPrefix && key.hasPrefix("payload.")) else {
        throw APIError.badRequest(
          "unknown query parameter (known: \(known.sorted().joined(separator: ", "))"
            + (payloadPrefix ? ", payload.FIELD" : "") + ")", field: key)
      }
      guard out[key] == nil else {
        throw APIError.badRequest("query parameter given twice", field: key)
      }
      // Hummingbird has already removed the percent-encoding.
      out[key] = String(v)
    }
    return out
  }

  static func int(_ q: [String: String], _ key: String, in range: ClosedRange<Int>) throws -> Int? {
    guard let s = q[key] else { return nil }
    guard let n = Int(s), range.contains(n) else {
      throw APIError.badRequest(
        "must be an integer from \(range.lowerBound) to \(range.upperBound), got \"\(s)\"",
        field: key)
    }
    return n
  }

  static func time(_ q: [String: String], _ key: String) throws -> Timestamp? {
    guard let s = q[key] else { return nil }
    guard let t = Timestamp.parse(s) else {
      throw APIError.badRequest(
        "must be an RFC 3339 time such as 2026-11-23T16:11:02Z, got \"\(s)\"", field: key)
    }
    return t
  }
}
