"""Reference posterior of one ndelab GW injection with bilby + dynesty, the tool the field trusts.

Reads a folder written by `ndelab export-injections SPEC --out DIR`, builds the same signal model
with bilby's WaveformGenerator (LALSimulation's IMRPhenomD), the detector response and ndelab's
documented whitening (injections.json), and samples the whitened Gaussian likelihood

    log L = -1/2 sum (d_w - h_w)^2

over every sampled parameter (so the phase is marginalised as in ndelab's built-in sampler) with
dynesty's nested sampler. Masses are drawn on the square and sorted (m1 >= m2), which is the
uniform prior on the triangle, as ndelab does. Writes the posterior of the inferred parameters as
`injection_<i>.csv` (columns named as in ndelab), ready for `ndelab eval RUN --reference OUT`,
and prints one JSON line with the run time and log evidence.

    bench/.venv/bin/python bench/bilby_reference.py DIR --injection 0 --out OUT [--nlive 1000]

With --make, bilby writes the observation itself: it draws the parameters from the prior of
injections.json (redrawing until the network SNR is at least --snr-min), makes the whitened
signal with its own waveform generator and detector response, adds unit white noise, and writes
`observation_<i>.npy` (one row, as `ndelab reference SPEC --data` reads it) and
`truth_<i>.json` beside the posterior. DIR then only supplies the settings (detectors, PSD,
sampling, priors): the check that ndelab reads data written by another tool the way that tool
meant it.

    bench/.venv/bin/python bench/bilby_reference.py DIR --make --injection 0 --out OUT
    ndelab reference SPEC --data OUT/observation_0.npy --out ndelab_0.parquet
    ndelab compare ndelab_0.parquet OUT/injection_0.csv --parameters m1,m2,d_L,t0
"""
import argparse, json, os, time, warnings

import numpy as np

warnings.filterwarnings("ignore")

BILBY_NAME = {"m1": "mass_1", "m2": "mass_2", "d_L": "luminosity_distance", "t0": "geocent_time",
              "phase": "phase", "ra": "ra", "dec": "dec", "psi": "psi", "theta_jn": "theta_jn"}
PERIODIC = {"phase", "ra", "psi"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("injections")
    ap.add_argument("--injection", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--nlive", type=int, default=1000)
    ap.add_argument("--infer", default="m1,m2,d_L,t0", help="parameters written to the CSV")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--make", action="store_true", help="bilby draws and writes the observation itself")
    ap.add_argument("--snr-min", type=float, default=8.0, help="with --make: the least network SNR")
    a = ap.parse_args()

    import bilby
    bilby.core.utils.logger.setLevel("WARNING")
    man = json.load(open(os.path.join(a.injections, "injections.json")))
    gw = man["gw_bbh"]
    fs, T = gw["sampling_frequency"], gw["duration"]
    n = int(round(fs * T))
    start = gw["start_time"]
    sampled = man["parameters"]
    priors_spec = man["settings"]["gw_bbh"]["priors"]

    wfg = bilby.gw.WaveformGenerator(
        duration=T, sampling_frequency=fs, start_time=start,
        frequency_domain_source_model=bilby.gw.source.lal_binary_black_hole,
        parameter_conversion=bilby.gw.conversion.convert_to_lal_binary_black_hole_parameters,
        waveform_arguments=dict(waveform_approximant=gw["approximant"], reference_frequency=gw["f_ref"],
                                minimum_frequency=gw["f_min"]))
    ifos = bilby.gw.detector.InterferometerList(gw["detectors"])
    for ifo in ifos:
        # The curve ndelab whitens this detector with (bilby ships the file; its default H1 PSD
        # is another one). injections.json names it per detector; older exports meant the design curve.
        curve = gw["psd"].get(ifo.name, {}).get("bilby") if isinstance(gw.get("psd"), dict) else None
        ifo.power_spectral_density = bilby.gw.detector.PowerSpectralDensity(**(curve or {"psd_file": "aLIGO_ZERO_DET_high_P_psd.txt"}))
        ifo.set_strain_data_from_power_spectral_density(sampling_frequency=fs, duration=T, start_time=start)
        ifo.minimum_frequency = gw["f_min"]
    asds = [ifo.amplitude_spectral_density_array for ifo in ifos]
    fixed = {BILBY_NAME[k]: v for k, v in gw["fixed_parameters"].items()}
    base = dict(a_1=0.0, a_2=0.0, tilt_1=0.0, tilt_2=0.0, phi_12=0.0, phi_jl=0.0, **fixed)

    def whitened(p):
        pol = wfg.frequency_domain_strain(p)
        out = []
        for ifo, asd in zip(ifos, asds):
            h = ifo.get_detector_response(pol, p)
            with np.errstate(divide="ignore", invalid="ignore"):
                out.append(np.sqrt(2 * fs) * np.fft.irfft(np.nan_to_num(h / asd, posinf=0, neginf=0), n=n))
        return np.concatenate(out)

    def to_bilby(params):
        p = dict(base)
        for k in sampled:
            p[BILBY_NAME[k]] = params[k]
        if "m1" in params and "m2" in params:
            p["mass_1"], p["mass_2"] = max(params["m1"], params["m2"]), min(params["m1"], params["m2"])
        p["geocent_time"] = gw["reference_time"] + p.get("geocent_time", fixed.get("geocent_time", 0.0))
        return p

    os.makedirs(a.out, exist_ok=True)
    if a.make:
        # bilby's own injection: its signal of parameters drawn from the prior, plus unit white noise.
        rng = np.random.default_rng(1000 + a.injection)
        while True:
            truth = {k: float(rng.uniform(priors_spec[k]["min"], priors_spec[k]["max"])) for k in sampled}
            if "m1" in truth and "m2" in truth:
                truth["m1"], truth["m2"] = max(truth["m1"], truth["m2"]), min(truth["m1"], truth["m2"])
            signal = whitened(to_bilby(truth))
            if np.linalg.norm(signal) >= a.snr_min:
                break
        data = signal + rng.standard_normal(signal.shape)
        np.save(os.path.join(a.out, f"observation_{a.injection}.npy"), data[None, :].astype(np.float32))
        json.dump({"truth": truth, "snr": float(np.linalg.norm(signal)), "made_by": "bilby " + bilby.__version__},
                  open(os.path.join(a.out, f"truth_{a.injection}.json"), "w"), indent=1)
        data = data.astype(np.float32).astype(float)  # what ndelab reads
        mismatch = 0.0
    else:
        data = np.load(os.path.join(a.injections, "data.npy"))[a.injection].astype(float)
        theta = np.load(os.path.join(a.injections, "theta.npy"))[a.injection].astype(float)
        # The check of the whitening convention: the true parameters reproduce the stored signal.
        signal = np.load(os.path.join(a.injections, "signal.npy"))[a.injection].astype(float)
        truth = dict(zip(sampled, theta))
        mismatch = np.linalg.norm(whitened(to_bilby(truth)) - signal) / np.linalg.norm(signal)
        if mismatch > 1e-3:
            raise SystemExit(f"the bilby signal of the true parameters differs from ndelab's by {mismatch:.3g} (relative L2): "
                             "the conventions do not match; not sampling")

    class WhitenedLikelihood(bilby.Likelihood):
        def __init__(self):
            super().__init__(parameters={k: None for k in sampled})

        def log_likelihood(self):
            try:
                h = whitened(to_bilby(self.parameters))
            except Exception:
                return -np.inf
            return -0.5 * float(np.sum((data - h) ** 2))

    priors = bilby.core.prior.PriorDict()
    for k in sampled:
        spec = priors_spec[k if k != "d_L" else "d_L"]
        priors[k] = bilby.core.prior.Uniform(spec["min"], spec["max"], name=k,
                                             boundary="periodic" if k in PERIODIC else None)

    t = time.perf_counter()
    result = bilby.run_sampler(likelihood=WhitenedLikelihood(), priors=priors, sampler="dynesty", nlive=a.nlive,
                               sample="rwalk", walks=50, dlogz=0.1, outdir=os.path.join(a.out, "bilby"),
                               label=f"injection_{a.injection}", seed=a.seed, npool=1, save=False,
                               plot=False, check_point=False, resume=False)
    seconds = time.perf_counter() - t
    post = result.posterior
    if "m1" in post and "m2" in post:
        m1, m2 = post["m1"].to_numpy(), post["m2"].to_numpy()
        post["m1"], post["m2"] = np.maximum(m1, m2), np.minimum(m1, m2)
    infer = a.infer.split(",")
    path = os.path.join(a.out, f"injection_{a.injection}.csv")
    post[infer].to_csv(path, index=False)
    import lal, dynesty
    print(json.dumps({"peer": f"bilby {bilby.__version__} + dynesty {dynesty.__version__} + lalsuite {lal.__version__}",
                      "injection": a.injection, "seconds": round(seconds, 1), "samples": len(post),
                      "log_evidence": result.log_evidence, "log_evidence_err": result.log_evidence_err,
                      "signal_relative_mismatch": float(mismatch), "out": path}))


if __name__ == "__main__":
    main()
