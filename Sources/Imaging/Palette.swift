/// Class colours: matplotlib's ten "tab10" colours for classes 0–9, then
/// generated hues (golden-angle steps around the colour wheel) for the rest.
public enum Palette {
    /// The tab10 colours, in matplotlib's order.
    public static let tab10: [RGBColor] = [
        0x1F77B4, 0xFF7F0E, 0x2CA02C, 0xD62728, 0x9467BD,
        0x8C564B, 0xE377C2, 0x7F7F7F, 0xBCBD22, 0x17BECF,
    ].map { RGBColor(hex: $0) }

    /// The colour of class `index` (≥ 0). Deterministic; the first ten are tab10.
    public static func color(forClass index: Int) -> RGBColor {
        precondition(index >= 0, "Palette: negative class index \(index)")
        if index < tab10.count { return tab10[index] }
        let k = index - tab10.count
        // Golden-angle hue steps keep neighbours far apart; offset so the first
        // generated hues fall between tab10's. Alternate value/saturation bands.
        let hue = (0.08 + Double(k) * 0.381966).truncatingRemainder(dividingBy: 1)
        let band = k % 3
        let saturation = [0.70, 0.55, 0.85][band]
        let value = [0.80, 0.65, 0.92][band]
        return hsv(hue: hue, saturation: saturation, value: value)
    }

    /// `colors(count:)[i] == color(forClass: i)`.
    public static func colors(count: Int) -> [RGBColor] {
        (0..<max(0, count)).map { color(forClass: $0) }
    }

    /// HSV (each in [0, 1]) to 8-bit RGB.
    static func hsv(hue h: Double, saturation s: Double, value v: Double) -> RGBColor {
        let h6 = h * 6
        let sector = Int(h6) % 6
        let f = h6 - Double(Int(h6))
        let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
        let (r, g, b): (Double, Double, Double)
        switch sector {
        case 0: (r, g, b) = (v, t, p)
        case 1: (r, g, b) = (q, v, p)
        case 2: (r, g, b) = (p, v, t)
        case 3: (r, g, b) = (p, q, v)
        case 4: (r, g, b) = (t, p, v)
        default: (r, g, b) = (v, p, q)
        }
        func byte(_ x: Double) -> UInt8 { UInt8(max(0, min(255, (x * 255).rounded()))) }
        return RGBColor(byte(r), byte(g), byte(b))
    }
}
