import Testing

@testable import DroverCore

/// Parses `text`, failing the test on an error.
private func parse(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws
  -> TOMLTable
{
  do {
    return try TOMLParser.parse(text, file: "t.toml")
  } catch {
    Issue.record("unexpected error: \(error)", sourceLocation: sourceLocation)
    throw error
  }
}

/// The error parsing `text` gives, or nil (and a failed expectation) when it parses.
private func parseError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation)
  -> ConfigError?
{
  do {
    let t = try TOMLParser.parse(text, file: "t.toml")
    Issue.record("expected an error, parsed \(t)", sourceLocation: sourceLocation)
    return nil
  } catch {
    return error
  }
}

/// Follows a dotted path of table keys.
private func value(_ t: TOMLTable, _ path: String...) -> TOMLValue? {
  var table = t
  for (k, key) in path.enumerated() {
    guard let v = table[key] else { return nil }
    if k == path.count - 1 { return v }
    guard let next = v.table else { return nil }
    table = next
  }
  return nil
}

@Suite struct TOMLParserTests {
  @Test func emptyAndCommentOnlyDocuments() throws {
    #expect(try parse("").entries.isEmpty)
    #expect(try parse("# nothing\n\n   # more\r\n\t\n").entries.isEmpty)
    #expect(try parse("\u{FEFF}a = 1")["a"]?.integer == 1)
  }

  @Test func keysAndLines() throws {
    let t = try parse(
      """
      # header comment
      bare_key-1 = 1
      "quoted key" = 2   # trailing comment
      'literal "key"' = 3

      "" = 4
      """)
    #expect(t.keys == ["bare_key-1", "quoted key", "literal \"key\"", ""])
    #expect(t.entry("bare_key-1")?.line == 2)
    #expect(t.entry("quoted key")?.line == 3)
    #expect(t["literal \"key\""]?.line == 4)
    #expect(t[""]?.integer == 4)
    #expect(t[""]?.line == 6)
  }

  @Test func dottedKeysMakeTables() throws {
    let t = try parse(
      """
      a.b = 1
      a . "c d" . e = 2
      a.f = 3
      """)
    #expect(value(t, "a", "b")?.integer == 1)
    #expect(value(t, "a", "c d", "e")?.integer == 2)
    #expect(value(t, "a", "f")?.integer == 3)
    #expect(t.entry("a")?.line == 1)
    #expect(value(t, "a", "f")?.line == 3)
  }

  @Test func tableHeaders() throws {
    let t = try parse(
      """
      top = true

      [pools.email]
      max = 2

      [ pools . "big.one" ]
      max = 3
      [pools]
      note = "defined after its children is fine"
      """)
    #expect(t["top"]?.boolean == true)
    #expect(value(t, "pools", "email", "max")?.integer == 2)
    #expect(value(t, "pools", "email", "max")?.line == 4)
    #expect(value(t, "pools", "email")?.line == 3)
    #expect(value(t, "pools", "big.one", "max")?.integer == 3)
    #expect(value(t, "pools", "note")?.string != nil)
    #expect(t.entry("pools")?.line == 8)
    #expect(value(t, "pools")?.table?.keys == ["email", "big.one", "note"])
  }

  @Test func headerMayAddSubtablesToDottedTables() throws {
    let t = try parse(
      """
      [fruit]
      apple.color = "red"
      apple.taste.sweet = true
      [fruit.apple.texture]
      smooth = true
      """)
    #expect(value(t, "fruit", "apple", "texture", "smooth")?.boolean == true)
    #expect(value(t, "fruit", "apple", "taste", "sweet")?.boolean == true)
  }

  @Test func basicStrings() throws {
    let t = try parse(
      #"""
      a = "quote \" backslash \\ newline \n tab \t done"
      b = "\u00E9\U0001F600 \b\f\r\e\x41"
      c = "tab	inside"
      d = "ünïcödé ✓"
      """#)
    #expect(t["a"]?.string == "quote \" backslash \\ newline \n tab \t done")
    #expect(t["b"]?.string == "é😀 \u{8}\u{C}\r\u{1B}A")
    #expect(t["c"]?.string == "tab\tinside")
    #expect(t["d"]?.string == "ünïcödé ✓")
  }

  @Test func literalStrings() throws {
    let t = try parse(
      #"""
      path = 'C:\Users\nodejs\templates'
      re = '<\i\c*\s*>'
      """#)
    #expect(t["path"]?.string == #"C:\Users\nodejs\templates"#)
    #expect(t["re"]?.string == #"<\i\c*\s*>"#)
  }

  @Test func multilineBasicStrings() throws {
    let t = try parse(
      "a = \"\"\"\nRoses are red\r\nViolets are blue\"\"\"\n"
        + "b = \"\"\"\\\n    The quick \\\n\n    brown fox.\\\n    \"\"\"\n"
        + "c = \"\"\"Here are two quotes: \"\". Done.\"\"\"\n"
        + "d = \"\"\"\"quoted\"\"\"\"\n"
        + "e = \"\"\"ends with two\"\"\"\"\"\n"
        + "f = 1\n")
    #expect(t["a"]?.string == "Roses are red\nViolets are blue")
    #expect(t["b"]?.string == "The quick brown fox.")
    #expect(t["c"]?.string == "Here are two quotes: \"\". Done.")
    #expect(t["d"]?.string == "\"quoted\"")
    #expect(t["e"]?.string == "ends with two\"\"")
    #expect(t["a"]?.line == 1)
    #expect(t["b"]?.line == 4)
    #expect(t["f"]?.line == 12)
  }

  @Test func multilineLiteralStrings() throws {
    let t = try parse(
      "regex = '''I [dw]on't need \\d{2} apples'''\n"
        + "lines = '''\nThe first newline is\ntrimmed.\\n stays\n'''\n"
        + "q = ''''one quote''''\n")
    #expect(t["regex"]?.string == #"I [dw]on't need \d{2} apples"#)
    #expect(t["lines"]?.string == "The first newline is\ntrimmed.\\n stays\n")
    #expect(t["q"]?.string == "'one quote'")
  }

  @Test func integers() throws {
    let t = try parse(
      """
      a = 42
      b = +17
      c = -5
      d = 0
      e = 1_000_000
      f = 0xDEAD_beef
      g = 0o755
      h = 0b1101
      i = 9_223_372_036_854_775_807
      j = -9223372036854775808
      k = -0
      """)
    #expect(t["a"]?.integer == 42)
    #expect(t["b"]?.integer == 17)
    #expect(t["c"]?.integer == -5)
    #expect(t["d"]?.integer == 0)
    #expect(t["e"]?.integer == 1_000_000)
    #expect(t["f"]?.integer == 0xDEAD_BEEF)
    #expect(t["g"]?.integer == 0o755)
    #expect(t["h"]?.integer == 0b1101)
    #expect(t["i"]?.integer == .max)
    #expect(t["j"]?.integer == .min)
    #expect(t["k"]?.integer == 0)
  }

  @Test(arguments: [
    "01", "1__0", "_1", "1_", "+0x1", "0x", "0xG", "0b2", "1-2", "++1", "0_0", "1e", "1.", ".5",
    "1.e3", "1._5", "1e_3", "3.14.15", "nope", "yes", "True",
  ])
  func invalidNumbersAndWords(text: String) {
    let e = parseError("x = \(text)")
    #expect(e?.line == 1)
    #expect(e?.key == "x")
    #expect(e?.message.contains("invalid value") == true)
  }

  @Test func outOfRangeIntegers() {
    #expect(parseError("x = 9223372036854775808")?.message.contains("out of range") == true)
    #expect(parseError("x = 0x1_0000_0000_0000_0000")?.message.contains("out of range") == true)
    #expect(parseError("x = 1e999")?.message.contains("out of range") == true)
  }

  @Test func floatsAndBooleans() throws {
    let t = try parse(
      """
      a = 3.14
      b = -0.01
      c = 5e+22
      d = 6.626E-34
      e = 1_000.000_1
      f = inf
      g = -inf
      h = nan
      i = true
      j = false
      k = 0.5e2
      """)
    #expect(t["a"]?.float == 3.14)
    #expect(t["b"]?.float == -0.01)
    #expect(t["c"]?.float == 5e22)
    #expect(t["d"]?.float == 6.626e-34)
    #expect(t["e"]?.float == 1000.0001)
    #expect(t["f"]?.float == .infinity)
    #expect(t["g"]?.float == -.infinity)
    #expect(t["h"]?.float?.isNaN == true)
    #expect(t["i"]?.boolean == true)
    #expect(t["j"]?.boolean == false)
    #expect(t["k"]?.float == 50)
    #expect(t["a"]?.integer == nil)
  }

  @Test func arrays() throws {
    let t = try parse(
      """
      empty = []
      ints = [1, 2, 3]
      mixed = ["a", 1, 2.5, true, [1, [2]], { x = 1 }]
      long = [   # a comment after the bracket
        "first",
        # a comment line
        "second",   # and one after an item

        "third",    # trailing comma next
      ]
      after = 1
      """)
    #expect(t["empty"]?.array == [])
    #expect(t["ints"]?.array?.compactMap(\.integer) == [1, 2, 3])
    #expect(t["mixed"]?.array?.count == 6)
    #expect(t["mixed"]?.array?[4].array?[1].array?[0].integer == 2)
    #expect(t["mixed"]?.array?[5].table?["x"]?.integer == 1)
    #expect(t["long"]?.array?.compactMap(\.string) == ["first", "second", "third"])
    #expect(t["long"]?.line == 4)
    #expect(t["long"]?.array?.map(\.line) == [5, 7, 9])
    #expect(t["after"]?.line == 11)
  }

  @Test func inlineTables() throws {
    let t = try parse(
      """
      backoff = { base = "1s", cap = "1h" }
      empty = {}
      nested = { a = { b = 1 }, c.d = 2, c.e = 3 }
      multi = {
        x = 1, # TOML 1.1 allows newlines and a trailing comma
        y = 2,
      }
      """)
    #expect(value(t, "backoff", "base")?.string == "1s")
    #expect(value(t, "backoff", "cap")?.string == "1h")
    #expect(t["backoff"]?.table?.keys == ["base", "cap"])
    #expect(t["empty"]?.table == TOMLTable())
    #expect(value(t, "nested", "a", "b")?.integer == 1)
    #expect(value(t, "nested", "c", "e")?.integer == 3)
    #expect(value(t, "multi", "y")?.integer == 2)
    #expect(value(t, "multi", "y")?.line == 6)
  }

  @Test func duplicateKeys() {
    let e = parseError("a = 1\nb = 2\na = 3\n")
    #expect(e?.line == 3)
    #expect(e?.key == "a")
    #expect(e?.message == "duplicate key (first set on line 1)")
    #expect(parseError("[t]\nx = 1\n\"x\" = 2")?.key == "t.x")
    #expect(parseError("a.b = 1\na.b = 2")?.key == "a.b")
    #expect(parseError("a.b = 1\na = 2")?.message == "duplicate key (first set on line 1)")
    #expect(parseError("x = { a = 1, a = 2 }")?.key == "x.a")
  }

  @Test func redefinedTables() {
    let twice = parseError("[a]\nx = 1\n[b]\n[a]\n")
    #expect(twice?.line == 4)
    #expect(twice?.key == "a")
    #expect(twice?.message == "table [a] is defined twice (first on line 1)")
    #expect(parseError("[a.b]\n[a.b]")?.key == "a.b")
    // A header over a table made by dotted keys.
    let dotted = parseError("[fruit]\napple.color = 1\n[fruit.apple]\n")
    #expect(dotted?.line == 3)
    #expect(dotted?.key == "fruit.apple")
    // A dotted key into a table made by a header, implicitly or not.
    let intoHeader = parseError("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n")
    #expect(intoHeader?.line == 4)
    #expect(intoHeader?.key == "a.b")
    // Inline tables are complete as written.
    #expect(parseError("a = { b = 1 }\n[a]\n")?.message.contains("inline table") == true)
    #expect(parseError("a = { b = 1 }\na.c = 2\n")?.message.contains("inline table") == true)
    #expect(parseError("a = { b = 1 }\n[a.c]\n")?.key == "a")
    // A key that already holds a value is not a table.
    let notTable = parseError("a = 1\n[a.b]\n")
    #expect(notTable?.message == "is already an integer (line 1), not a table")
    #expect(parseError("a = 1\na.b = 2\n")?.line == 2)
    #expect(parseError("a = \"s\"\n[a]\n")?.message == "is already a string (line 1), not a table")
  }

  @Test func datesAndArraysOfTablesAreRejected() {
    for text in [
      "d = 1979-05-27", "d = 1979-05-27T07:32:00Z", "d = 07:32:00", "d = 1979-05-27 07:32:00",
    ] {
      let e = parseError(text)
      #expect(e?.message.contains("dates and times are not supported") == true, "\(text)")
      #expect(e?.key == "d")
    }
    let e = parseError("a = 1\n[[jobs]]\n")
    #expect(e?.line == 2)
    #expect(e?.message.contains("arrays of tables") == true)
  }

  @Test func syntaxErrorsCarryLines() {
    #expect(parseError("a = 1\nb =\n")?.message == "missing value")
    #expect(parseError("a = 1\nb =\n")?.line == 2)
    #expect(parseError("a = 1\nb = # c\n")?.message == "missing value")
    #expect(parseError("a 1")?.message.contains("expected \"=\"") == true)
    #expect(parseError("a = 1 2")?.message.contains("end of the line") == true)
    #expect(parseError("a = \"x\" b = 1")?.line == 1)
    #expect(parseError("= 1")?.message.contains("expected a key") == true)
    #expect(parseError("[a\nb = 1")?.message.contains("\"]\"") == true)
    #expect(parseError("[]")?.message.contains("expected a key") == true)
    #expect(parseError("a.b. = 1")?.message.contains("expected a key") == true)
    #expect(parseError("\"\"\"k\"\"\" = 1")?.message.contains("multi-line") == true)
    #expect(parseError("a = [1 2]")?.message.contains("\",\" or \"]\"") == true)
    #expect(parseError("a = [1,,2]")?.message.contains("expected a value") == true)
    #expect(parseError("a = [1,\n2,\n")?.message.contains("unterminated array") == true)
    #expect(parseError("a = { b = 1 c = 2 }")?.message.contains("\",\" or \"}\"") == true)
    #expect(parseError("a = { b = 1,")?.message.contains("unterminated inline") == true)
    #expect(parseError("a = 1 # bell \u{7}")?.message.contains("U+0007") == true)
    #expect(parseError("a = 1\r")?.line == 1)
    #expect(parseError("a = 1\rb = 2")?.message.contains("carriage return") == true)
    #expect(parseError("\r\n\r")?.line == 2)
  }

  @Test func stringErrors() {
    #expect(parseError("a = \"open")?.message.contains("unterminated string") == true)
    #expect(parseError("a = \"two\nlines\"")?.message.contains("\"\"\"") == true)
    #expect(parseError("a = 'open")?.message.contains("unterminated") == true)
    #expect(parseError("a = '''open\n")?.message.contains("unterminated multi-line") == true)
    #expect(parseError("\n\na = \"\"\"open\n\n")?.line == 3)
    #expect(parseError(#"a = "\q""#)?.message.contains("invalid escape") == true)
    #expect(parseError(#"a = "\u12""#)?.message.contains("4 hex digits") == true)
    #expect(parseError(#"a = "\u+123""#)?.message.contains("4 hex digits") == true)
    #expect(parseError(#"a = "\uD800""#)?.message.contains("not a Unicode scalar") == true)
    #expect(parseError(#"a = "\U00110000""#)?.message.contains("not a Unicode scalar") == true)
    #expect(parseError("a = \"bell \u{7}\"")?.message.contains("control character") == true)
    #expect(parseError("a = \"\"\"six\"\"\"\"\"\"")?.message.contains("too many quotes") == true)
    #expect(parseError("a = '''x \u{0} '''")?.message.contains("control character") == true)
  }

  @Test func deepNestingIsRefused() {
    let deep = "a = " + String(repeating: "[", count: 10_000)
    #expect(parseError(deep)?.message.contains("nested too deeply") == true)
    let ok = "a = " + String(repeating: "[", count: 30) + String(repeating: "]", count: 30)
    #expect((try? TOMLParser.parse(ok, file: nil)) != nil)
    let longKey = Array(repeating: "k", count: 100_000).joined(separator: ".") + " = 1"
    #expect(parseError(longKey)?.message == "a key may have at most 64 parts")
    let longHeader = "[" + Array(repeating: "k", count: 65).joined(separator: ".") + "]"
    #expect(parseError(longHeader)?.message == "a key may have at most 64 parts")
  }

  @Test func errorsRenderWithFileLineAndKey() {
    let e = parseError("[pools.email]\nmax = 1\nmax = 2\n")
    #expect(e?.description == "t.toml:3: pools.email.max: duplicate key (first set on line 2)")
    #expect(parseError("[pools.\"a b\"]\nx = 1\nx = 2")?.key == "pools.\"a b\".x")
  }
}
