/// Takes out of the face's colours what the skin mask's changing size and the camera's own
/// changes do to them.
///
/// Pixels near the skin box's edges (the darkest of a dark face, the greyest of a dim one) cross
/// in and out of the mask from frame to frame with the camera's noise. They are not the face's
/// average colour, so each crossing moves the mean: on type VI skin under the idealised camera the
/// mean green followed the skin pixel count with a correlation of −0.95, and that, not the pixels'
/// own noise, was the mean's noise. And a kiosk webcam's exposure steps move every code value in
/// proportion above the black level, so the face's mean colour, normalised by its own mean,
/// changes colour as well as brightness with each step; the scene around the face
/// (``BackgroundLight``) steps with it. Each regressor's share of each channel is fitted on
/// frame-to-frame differences (where those changes are and a pulse is not) and taken out.
enum ColourRegression {
    /// `colours` less each channel's least-squares fit on `regressors` (each as long as
    /// `colours`), fitted jointly: the coefficients fitted on the signals' frame-to-frame
    /// differences, applied to each regressor's deviation from its mean. Regressors that do not
    /// change, or are not as long as `colours`, are left out, and so is the last of any that
    /// change together with the others (the fit would be singular).
    static func removing(_ regressors: [[Double]], from colours: [SIMD3<Double>]) -> [SIMD3<Double>] {
        fitting(regressors, from: colours).colours
    }

    /// ``removing(_:from:)``, and for each regressor given whether it was fitted (not left out).
    static func fitting(_ regressors: [[Double]], from colours: [SIMD3<Double>]) -> (colours: [SIMD3<Double>], fitted: [Bool]) {
        var fitted = [Bool](repeating: false, count: regressors.count)
        guard colours.count > 2 else { return (colours, fitted) }
        // Each regressor's differences scaled to unit power, so that regressors in different units
        // (pixel counts, code values) weigh alike in the singularity test.
        var fits: [(index: Int, change: [Double], scale: Double)] = regressors.indices.compactMap { index in
            let r = regressors[index]
            guard r.count == colours.count else { return nil }
            let change = zip(r.dropFirst(), r).map { $0 - $1 }
            let scale = (change.reduce(0) { $0 + $1 * $1 } / Double(change.count)).squareRoot()
            return scale > 0 ? (index, change.map { $0 / scale }, scale) : nil
        }
        while !fits.isEmpty {
            if let slopes = slopes(of: fits.map(\.change), fittedTo: colours) {
                var result = colours
                for (fit, slope) in zip(fits, slopes) {
                    let r = regressors[fit.index]
                    let mean = r.reduce(0, +) / Double(r.count)
                    // Back from the scaled differences to the regressor's own units.
                    let perUnit = slope / fit.scale
                    for i in result.indices { result[i] -= perUnit * (r[i] - mean) }
                    fitted[fit.index] = true
                }
                return (result, fitted)
            }
            fits.removeLast()
        }
        return (colours, fitted)
    }

    /// The least-squares coefficients (one per channel) of the colours' frame-to-frame
    /// differences regressed on `changes`, `nil` when the normal equations are singular.
    private static func slopes(of changes: [[Double]], fittedTo colours: [SIMD3<Double>]) -> [SIMD3<Double>]? {
        let k = changes.count
        // Normal equations on the differences: (XᵀX) β = Xᵀy, one column of β per channel.
        var gram = [Double](repeating: 0, count: k * k)
        var moments = [SIMD3<Double>](repeating: .zero, count: k)
        for i in 1..<colours.count {
            let change = colours[i] - colours[i - 1]
            for a in 0..<k {
                moments[a] += change * changes[a][i - 1]
                for b in 0..<k { gram[a * k + b] += changes[a][i - 1] * changes[b][i - 1] }
            }
        }
        return solve(gram, moments, size: k)
    }

    /// The solution of `matrix` · x = `rhs` (Gaussian elimination with partial pivoting),
    /// `nil` when the matrix is singular (regressors that change together).
    private static func solve(_ matrix: [Double], _ rhs: [SIMD3<Double>], size n: Int) -> [SIMD3<Double>]? {
        var m = matrix, b = rhs
        let scale = m.map(abs).max() ?? 0
        guard scale > 0 else { return nil }
        for column in 0..<n {
            guard let pivot = (column..<n).max(by: { abs(m[$0 * n + column]) < abs(m[$1 * n + column]) }),
                abs(m[pivot * n + column]) > 1e-8 * scale
            else { return nil }
            if pivot != column {
                for j in 0..<n { m.swapAt(pivot * n + j, column * n + j) }
                b.swapAt(pivot, column)
            }
            for row in (column + 1)..<n {
                let factor = m[row * n + column] / m[column * n + column]
                for j in column..<n { m[row * n + j] -= factor * m[column * n + j] }
                b[row] -= factor * b[column]
            }
        }
        var x = [SIMD3<Double>](repeating: .zero, count: n)
        for row in stride(from: n - 1, through: 0, by: -1) {
            var sum = b[row]
            for j in (row + 1)..<n { sum -= m[row * n + j] * x[j] }
            x[row] = sum / m[row * n + row]
        }
        return x
    }
}
