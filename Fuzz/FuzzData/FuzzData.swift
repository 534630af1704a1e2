import Foundation

@testable import TailNet

// libFuzzer target: the data readers. The first input byte picks a reader (value mod 8), the
// rest is the file. Property: a reader returns data or throws (`DataError`, `NPYError`) or
// answers nil (cache); nothing traps, nothing hangs. Readers that take a path get the bytes
// through a file in a per-process scratch folder (IDX, UCR, CIFAR, cache); the others take
// bytes (IDX header, NPY). Needs a debug build (`@testable import`): scripts/fuzz.sh.
//
//  0  IDX header of 3 (image) or 1 (label) dimensions (second byte: which), in memory
//  1  IDX image + label pair: second and third bytes = image file length (LE), then the
//     image file, then the label file; `IDXReader.read`
//  2  UCR `.ts` file as train and test: `UCRReader.load`
//  3  UCR text (`.tsv`) file as train and test: `UCRReader.load`
//  4  CIFAR-10 binary file: `CIFARReader.load` (train = test = the file)
//  5  CIFAR-100 binary file: `CIFARReader.read(fine: true)`
//  6  NPY bytes: `NPY.decode`
//  7  converted cache file: header text up to the first zero byte (padded to 4096 bytes),
//     then the payload: `BinaryCache.map`

private let scratch: String = {
  let dir = NSTemporaryDirectory() + "tailsweep-fuzzdata-\(getpid())"
  try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  return dir
}()

private func file(_ name: String, _ bytes: some Collection<UInt8>) -> URL {
  let url = URL(fileURLWithPath: scratch + "/" + name)
  _ = FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
  return url
}

private func run(_ input: [UInt8]) throws {
  guard let selector = input.first else { return }
  let body = input.dropFirst()
  switch selector % 8 {
  case 0:
    let dims = body.first.map { $0 & 1 == 0 ? 3 : 1 } ?? 3
    _ = try IDXReader.header(Array(body.dropFirst()), dims: dims, path: "x", what: "fuzz")
  case 1:
    let rest = Array(body.dropFirst(2))
    let n = body.count >= 2 ? min(rest.count, Int(body[1]) | Int(body[2]) << 8) : 0
    let images = file("images", rest[..<n])
    let labels = file("labels", rest[n...])
    _ = try IDXReader.read(images: images, labels: labels, classes: 10, mean: 0.13, std: 0.31)
  case 2:
    let f = file("x.ts", body)
    _ = try UCRReader.load(train: f, test: f)
  case 3:
    let f = file("x.tsv", body)
    _ = try UCRReader.load(train: f, test: f)
  case 4:
    let f = file("cifar10.bin", body)
    _ = try CIFARReader.load(train: [f], test: [f], fine: false)
  case 5:
    _ = try CIFARReader.read([file("cifar100.bin", body)], fine: true)
  case 6:
    _ = try NPY.decode(Array(body), name: "x.npy")
  default:
    let zero = body.firstIndex(of: 0) ?? body.endIndex
    var bytes = Array(body[..<zero].prefix(BinaryCache.headerSize))
    bytes += [UInt8](repeating: 0, count: BinaryCache.headerSize - bytes.count)
    bytes += body[zero...].dropFirst()
    let f = file("cache.f32", bytes)
    let key =
      bytes.withUnsafeBytes {
        BinaryCache.Header.decode(UnsafeRawBufferPointer(rebasing: $0[..<BinaryCache.headerSize]))
      }?
      .sourceKey ?? ""
    if let (_, features, labels) = BinaryCache.map(f, sourceKey: key) {
      _ = features.rows + labels.count
    }
  }
}

/// libFuzzer's entry point: one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  do {
    try run(Array(UnsafeBufferPointer(start: data, count: size)))
  } catch {
    _ = "\(error)"
  }
  return 0
}

// MARK: Seed corpus

private func be32(_ v: Int) -> [UInt8] {
  [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
}

/// Seeds: small real files cut from `data/` (the first images of MNIST, the first series of
/// GunPoint) when `TAILSWEEP_DATA_DIR` names that folder, plus generated and edge-case files.
private func seeds() -> [String: [UInt8]] {
  var out: [String: [UInt8]] = [:]
  let dataDir = ProcessInfo.processInfo.environment["TAILSWEEP_DATA_DIR"] ?? "data"
  // IDX: 3 images of 28×28 with their labels.
  var images = be32(0x803) + be32(3) + be32(28) + be32(28)
  var labels = be32(0x801) + be32(3)
  if let real = FileManager.default.contents(atPath: dataDir + "/mnist/t10k-images-idx3-ubyte"),
    let realLabels = FileManager.default.contents(atPath: dataDir + "/mnist/t10k-labels-idx1-ubyte")
  {
    images += Array(real.dropFirst(16).prefix(3 * 784))
    labels += Array(realLabels.dropFirst(8).prefix(3))
  } else {
    images += (0..<(3 * 784)).map { UInt8($0 % 251) }
    labels += [7, 2, 1]
  }
  out["idx-header-images"] = [0, 0] + images
  out["idx-header-labels"] = [0, 1] + labels
  out["idx-pair"] = [1, UInt8(images.count & 0xff), UInt8(images.count >> 8)] + images + labels
  out["idx-edge-huge-dims"] = [0, 0] + be32(0x803) + be32(0x7fff_ffff) + be32(0xffff) + be32(2)
  out["idx-edge-truncated"] = [0, 0] + be32(0x803) + be32(1)
  // UCR: the first lines of GunPoint (.ts), a classic text file, edge cases.
  var ts =
    "@problemName GunPoint\n@timeStamps false\n@univariate true\n@classLabel true 1 2\n@data\n"
  if let real = FileManager.default.contents(atPath: dataDir + "/ucr/GunPoint/GunPoint_TRAIN.ts") {
    let lines = String(decoding: real, as: UTF8.self).split(separator: "\n")
    if let at = lines.firstIndex(where: { $0.lowercased().hasPrefix("@data") }) {
      ts = lines[...at].joined(separator: "\n") + "\n"
      ts +=
        lines[(at + 1)...].prefix(4).map {
          $0.split(separator: ",").prefix(12).joined(separator: ",")
            + ($0.split(separator: ":").last.map { ":" + $0 } ?? "")
        }.joined(separator: "\n") + "\n"
    }
  } else {
    ts += "1.0,2.0,3.0:1\n3.0,2.5,1.0:2\n"
  }
  out["ucr-ts"] = [2] + Array(ts.utf8)
  out["ucr-ts-edge-missing"] = [2] + Array("@classLabel true a b\n@data\n?,1:a\n".utf8)
  out["ucr-ts-edge-multivariate"] = [2] + Array("@classLabel true 1\n@data\n1,2:3,4:1\n".utf8)
  out["ucr-text"] = [3] + Array("1\t0.5\t0.25\t-1\n2\t1e3\t2\t3\n1.0e+00,4,5,6\r\n".utf8)
  out["ucr-text-edge-ragged"] = [3] + Array("1 2 3\n2 4\n".utf8)
  // CIFAR: one record (label, 3072 pixels); CIFAR-100: coarse and fine labels.
  out["cifar10"] = [4, 3] + (0..<3072).map { UInt8($0 % 256) }
  out["cifar100"] = [5, 4, 42] + (0..<3072).map { UInt8(($0 * 7) % 256) }
  out["cifar10-edge-short"] = [4, 3, 1, 2]
  // NPY: float32 and float64, C and Fortran order.
  out["npy-f4"] = [6] + NPY.encode(shape: [2, 3], float32: [1, 2, 3, 4, 5, 6])
  out["npy-f8"] = [6] + NPY.encode(shape: [3], float64: [0.5, -1, .infinity])
  var fortran = NPY.encode(shape: [2, 2], float64: [1, 2, 3, 4])
  let word = Array("False".utf8)
  if let at = (0..<(fortran.count - 5)).first(where: { Array(fortran[$0..<($0 + 5)]) == word }) {
    fortran.replaceSubrange(at..<(at + 5), with: Array("True ".utf8))
  }
  out["npy-fortran"] = [6] + fortran
  out["npy-edge-v2-header"] = [6, 0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0, 0xff, 0xff, 0xff, 0x7f]
  // Cache: a valid 2×3 cache with labels 0 and 1.
  let header = BinaryCache.Header(
    rows: 2, columns: 3, sourceKey: "k", sourceHash: "h", classLabels: ["a", "b"],
    normalization: "none")
  let text = header.encoded().prefix { $0 != 0 }
  var payload: [UInt8] = []
  for v: Float in [1, 2, 3, 4, 5, 6] {
    withUnsafeBytes(of: v.bitPattern.littleEndian) { payload += $0 }
  }
  for l: Int32 in [0, 1] { withUnsafeBytes(of: l.littleEndian) { payload += $0 } }
  out["cache"] = [7] + text + [0] + payload
  out["cache-edge-negative"] =
    [7]
    + Array(
      "TAILSWEEP-CACHE 1\nrows=-1\ncolumns=-2\nsourceKey=\nsourceHash=\nclassLabels=a\nnormalization=\nendian=little\n"
        .utf8)
    + [0, 0, 0, 0, 0]
  return out
}

/// libFuzzer calls this once before fuzzing. With `TAILSWEEP_FUZZ_SEEDS=<dir>` it writes the
/// seed corpus into that folder and exits (Fuzz/make-corpus.sh).
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutableRawPointer)
  -> CInt
{
  _ = scratch
  if let dir = ProcessInfo.processInfo.environment["TAILSWEEP_FUZZ_SEEDS"] {
    for (name, bytes) in seeds() {
      _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(bytes))
    }
    exit(0)
  }
  return 0
}
