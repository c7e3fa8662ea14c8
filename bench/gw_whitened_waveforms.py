"""Whitened-waveform throughput of bilby + lalsuite, the peer of `ndelab bench simulate`.

Makes the same signals as ndelab's gw_bbh defaults (Gabbard et al.'s benchmark: H1, 256 Hz,
1 s, IMRPhenomD, aLIGO design PSD, m1, m2 ~ U[35, 80], d_L ~ U[1000, 3000] Mpc,
t0 ~ U[0.15, 0.35] s, phase ~ U[0, 2pi), ra = 1.375, dec = -1.2108, psi = theta_jn = 0) the way
VItamin's data generation does: bilby's WaveformGenerator (LALSimulation), the detector
response, then sqrt(2N) * irfft(h / ASD). Prints one JSON line.

    python gw_whitened_waveforms.py --n 2000 --processes 2
"""
import argparse, json, multiprocessing as mp, time, warnings

import numpy as np

warnings.filterwarnings("ignore")

FS, T = 256.0, 1.0
N = int(FS * T)
TREF = 1126259642.5
START = TREF - T / 2


def setup():
    import bilby
    bilby.core.utils.logger.setLevel("ERROR")
    wfg = bilby.gw.WaveformGenerator(
        duration=T, sampling_frequency=FS,
        frequency_domain_source_model=bilby.gw.source.lal_binary_black_hole,
        parameter_conversion=bilby.gw.conversion.convert_to_lal_binary_black_hole_parameters,
        waveform_arguments=dict(waveform_approximant="IMRPhenomD", reference_frequency=20.0, minimum_frequency=20.0),
        start_time=START)
    ifo = bilby.gw.detector.InterferometerList(["H1"])[0]
    ifo.set_strain_data_from_power_spectral_density(sampling_frequency=FS, duration=T, start_time=START)
    return wfg, ifo


def draw(rng):
    m1, m2 = rng.uniform(35, 80, 2)
    m1, m2 = max(m1, m2), min(m1, m2)
    return dict(mass_1=m1, mass_2=m2, a_1=0.0, a_2=0.0, tilt_1=0.0, tilt_2=0.0, phi_12=0.0, phi_jl=0.0,
                luminosity_distance=rng.uniform(1000, 3000), theta_jn=0.0, psi=0.0,
                phase=rng.uniform(0, 2 * np.pi), geocent_time=TREF + rng.uniform(0.15, 0.35),
                ra=1.375, dec=-1.2108)


def run(args):
    n, seed = args
    wfg, ifo = setup()
    asd = ifo.amplitude_spectral_density_array
    rng = np.random.default_rng(seed)
    params = [draw(rng) for _ in range(n)]
    start = time.perf_counter()
    for p in params:
        pol = wfg.frequency_domain_strain(p)
        h = ifo.get_detector_response(pol, p)
        hw = np.sqrt(2 * N) * np.fft.irfft(np.nan_to_num(h / asd))
    return n, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--processes", type=int, default=2)
    a = ap.parse_args()
    n, secs = run((a.n, 0))
    single = n / secs
    with mp.Pool(a.processes) as pool:
        done = pool.map(run, [(a.n // a.processes, i + 1) for i in range(a.processes)])
    # Each worker times only its loop (imports and set-up excluded, in the peer's favour).
    parallel = sum(k for k, _ in done) / max(s for _, s in done)
    import bilby, lal
    print(json.dumps({"peer": f"bilby {bilby.__version__} + lalsuite {lal.__version__}", "n": a.n,
                      "single_thread_per_s": round(single), "processes": a.processes,
                      "all_processes_per_s": round(parallel)}))


if __name__ == "__main__":
    main()
