"""Kerr (2,2,0) quasinormal-mode frequencies by Leaver's continued fraction, with the `qnm`
package (pip install qnm==0.4.4; it computes the spin sequence itself when its cache cannot be
downloaded). Prints (a, M ω_R, M ω_I): the table pinned in src/sim/ringdown.rs's tests, which
agrees with Berti, Cardoso & Starinets' published tables to the digits printed.

    python3 bench/qnm_table.py
"""
import qnm

seq = qnm.modes_cache(s=-2, l=2, m=2, n=0)
for a in [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]:
    omega, _, _ = seq(a=a)
    print(f"{a:.2f},{omega.real:.6f},{-omega.imag:.6f}")
