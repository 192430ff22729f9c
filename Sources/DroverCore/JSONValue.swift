/// A JSON value, parsed and rendered without Foundation (the worker process stays small).
///
/// Objects keep their key order, so rendered output follows the order given (the CLI's
/// `--json` shapes rely on it). Parsing never changes data silently: integers that fit in
/// `Int64` become `int`; every other number (a fraction, an exponent, `-0`, an integer too
/// large for `Int64`, `1e400`) becomes `number` and keeps its text exactly as written, so
/// rendering gives it back byte for byte. A key repeated in one object is refused (which of
/// the two was meant cannot be known).
public enum JSONValue: Sendable, Hashable {
  case null
  case bool(Bool)
  case int(Int64)
  /// A number built in code; rendered in Swift's shortest round-trip form (null if not finite).
  case double(Double)
  /// A number as written in parsed text (valid RFC 8259 number syntax), kept verbatim.
  case number(String)
  case string(String)
  case array([JSONValue])
  case object([JSONField])

  /// The member named `key` of an object (the last one, if repeated); nil otherwise.
  public subscript(key: String) -> JSONValue? {
    guard case .object(let fields) = self else { return nil }
    return fields.last(where: { $0.key == key })?.value
  }

  public var stringValue: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  /// The value as an integer: an `int`, or a `double` with no fraction.
  public var intValue: Int64? {
    switch self {
    case .int(let i): return i
    case .double(let d) where d.rounded() == d && abs(d) < 9.2e18: return Int64(d)
    case .number(let text):
      if let i = Int64(text) { return i }
      guard let d = Double(text), d.rounded() == d, abs(d) < 9.2e18 else { return nil }
      return Int64(d)
    default: return nil
    }
  }

  public var doubleValue: Double? {
    switch self {
    case .int(let i): return Double(i)
    case .double(let d): return d
    case .number(let text): return Double(text)
    default: return nil
    }
  }

  public var boolValue: Bool? {
    if case .bool(let b) = self { return b }
    return nil
  }

  public var arrayValue: [JSONValue]? {
    if case .array(let a) = self { return a }
    return nil
  }

  public var objectValue: [JSONField]? {
    if case .object(let o) = self { return o }
    return nil
  }

  public var isNull: Bool { self == .null }

  /// A short name of the value's kind for error messages ("string", "object", …).
  public var kindName: String {
    switch self {
    case .null: "null"
    case .bool: "boolean"
    case .int, .double, .number: "number"
    case .string: "string"
    case .array: "array"
    case .object: "object"
    }
  }
}

/// One member of a JSON object.
public struct JSONField: Sendable, Hashable {
  public var key: String
  public var value: JSONValue
  public init(_ key: String, _ value: JSONValue) {
    self.key = key
    self.value = value
  }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
  ExpressibleByBooleanLiteral, ExpressibleByNilLiteral, ExpressibleByArrayLiteral,
  ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral
{
  public init(stringLiteral value: String) { self = .string(value) }
  public init(integerLiteral value: Int64) { self = .int(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(nilLiteral: ()) { self = .null }
  public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
  public init(floatLiteral value: Double) { self = .double(value) }
  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    self = .object(elements.map { JSONField($0.0, $0.1) })
  }

  /// A string, or null when nil.
  public static func optional(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
  /// An integer, or null when nil.
  public static func optional<I: BinaryInteger>(_ i: I?) -> JSONValue {
    i.map { .int(Int64($0)) } ?? .null
  }
}
