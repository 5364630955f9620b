import SodiumWrapper

/// Hex from test vectors, which the RFC wraps over several lines.
func hex(_ text: String) -> [UInt8] {
    Hex.decode(text.filter { !$0.isWhitespace })!
}
