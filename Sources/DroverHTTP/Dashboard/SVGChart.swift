/// Small bar charts as inline SVG, drawn on the server from numbers only (no stored text goes
/// into them, so the page may include them unescaped).
enum SVGChart {
  /// `values` as bars, oldest left, scaled to the largest (a flat line when all are zero);
  /// `format` writes a bar's tooltip.
  static func bars(
    _ values: [Double], width: Int = 480, height: Int = 80, cssClass: String = "chart",
    format: (Int, Double) -> String = { _, v in String(v) }
  ) -> String {
    let n = max(1, values.count)
    let top = max(values.max() ?? 0, 1e-9)
    let w = Double(width) / Double(n)
    var out =
      "<svg class=\"\(cssClass)\" viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\" role=\"img\" data-points=\"\(values.count)\">"
    out +=
      "<line x1=\"0\" y1=\"\(height - 1)\" x2=\"\(width)\" y2=\"\(height - 1)\" class=\"axis\"/>"
    for (i, v) in values.enumerated() where v > 0 {
      let h = max(1, (v / top * Double(height - 4)).rounded())
      let x = Double(i) * w
      out +=
        "<rect x=\"\(fmt(x))\" y=\"\(fmt(Double(height - 1) - h))\" width=\"\(fmt(max(1, w - 1)))\" height=\"\(fmt(h))\"><title>\(format(i, v))</title></rect>"
    }
    out += "<text x=\"2\" y=\"10\" class=\"max\">\(fmt(values.max() ?? 0))</text></svg>"
    return out
  }

  static func fmt(_ v: Double) -> String {
    v == v.rounded() ? String(Int(v)) : String((v * 100).rounded() / 100)
  }
}
