//! Row-major dense matrices with the few operations posteriors need.

/// A dense row-major matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Mat {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Row-major values.
    pub v: Vec<f64>,
}

impl Mat {
    /// The `n × m` zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Mat {
        Mat { rows, cols, v: vec![0.0; rows * cols] }
    }

    /// The `n × n` identity.
    pub fn identity(n: usize) -> Mat {
        let mut m = Mat::zeros(n, n);
        for i in 0..n {
            m.v[i * n + i] = 1.0;
        }
        m
    }

    /// Element (i, j).
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.v[i * self.cols + j]
    }

    /// Mutable element (i, j).
    pub fn at_mut(&mut self, i: usize, j: usize) -> &mut f64 {
        &mut self.v[i * self.cols + j]
    }

    /// The transpose.
    pub fn t(&self) -> Mat {
        let mut out = Mat::zeros(self.cols, self.rows);
        for i in 0..self.rows {
            for j in 0..self.cols {
                *out.at_mut(j, i) = self.at(i, j);
            }
        }
        out
    }

    /// The product `self · other`.
    pub fn matmul(&self, other: &Mat) -> Mat {
        assert_eq!(self.cols, other.rows, "matmul shapes");
        let mut out = Mat::zeros(self.rows, other.cols);
        for i in 0..self.rows {
            for k in 0..self.cols {
                let a = self.at(i, k);
                if a == 0.0 {
                    continue;
                }
                for j in 0..other.cols {
                    out.v[i * other.cols + j] += a * other.at(k, j);
                }
            }
        }
        out
    }

    /// The product `self · x` with a vector.
    pub fn matvec(&self, x: &[f64]) -> Vec<f64> {
        assert_eq!(self.cols, x.len(), "matvec shapes");
        (0..self.rows).map(|i| (0..self.cols).map(|j| self.at(i, j) * x[j]).sum()).collect()
    }

    /// `self · scale`, element-wise.
    pub fn scaled(&self, s: f64) -> Mat {
        Mat { rows: self.rows, cols: self.cols, v: self.v.iter().map(|x| x * s).collect() }
    }

    /// `self + other`.
    pub fn add(&self, other: &Mat) -> Mat {
        assert_eq!((self.rows, self.cols), (other.rows, other.cols));
        Mat { rows: self.rows, cols: self.cols, v: self.v.iter().zip(&other.v).map(|(a, b)| a + b).collect() }
    }
}

/// Lower Cholesky factor L with `a = L Lᵀ`, or `None` if `a` is not positive definite.
pub fn cholesky(a: &Mat) -> Option<Mat> {
    let n = a.rows;
    let mut l = Mat::zeros(n, n);
    for i in 0..n {
        for j in 0..=i {
            let mut s = a.at(i, j);
            for k in 0..j {
                s -= l.at(i, k) * l.at(j, k);
            }
            if i == j {
                if !(s > 0.0) || !s.is_finite() {
                    return None;
                }
                *l.at_mut(i, i) = s.sqrt();
            } else {
                *l.at_mut(i, j) = s / l.at(j, j);
            }
        }
    }
    Some(l)
}

/// Inverse of a lower-triangular matrix with a non-zero diagonal (lower-triangular again).
pub fn lower_inverse(l: &Mat) -> Mat {
    let n = l.rows;
    let mut inv = Mat::zeros(n, n);
    for col in 0..n {
        // Solve L x = e_col by forward substitution.
        for i in col..n {
            let mut s = if i == col { 1.0 } else { 0.0 };
            for k in col..i {
                s -= l.at(i, k) * inv.at(k, col);
            }
            *inv.at_mut(i, col) = s / l.at(i, i);
        }
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_and_inverse_reconstruct() {
        let a = Mat { rows: 3, cols: 3, v: vec![4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0] };
        let l = cholesky(&a).unwrap();
        let back = l.matmul(&l.t());
        for (x, y) in back.v.iter().zip(&a.v) {
            assert!((x - y).abs() < 1e-12);
        }
        let li = lower_inverse(&l);
        let eye = li.matmul(&l);
        for (x, y) in eye.v.iter().zip(&Mat::identity(3).v) {
            assert!((x - y).abs() < 1e-12);
        }
        assert!(cholesky(&Mat { rows: 2, cols: 2, v: vec![1.0, 2.0, 2.0, 1.0] }).is_none());
    }
}
