// `Array.withUnsafeBytes` rethrows untyped errors; these keep a closure's typed error, so the
// public API can throw `SFrameError` precisely.

func withBytes<T, E: Error>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T {
    let result: Result<T, E> = bytes.withUnsafeBytes { raw in Result { () throws(E) -> T in try body(raw) } }
    return try result.get()
}

func withMutableBytes<T, E: Error>(_ bytes: inout [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws(E) -> T) throws(E) -> T {
    let result: Result<T, E> = bytes.withUnsafeMutableBytes { raw in Result { () throws(E) -> T in try body(raw) } }
    return try result.get()
}
