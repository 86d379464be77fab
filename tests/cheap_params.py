"""Small budgets for every method, so that whole catalogues run in seconds in the tests (each plugin's own
tests exercise the defaults). A method missing here runs with its defaults: add it when it is slow."""

CHEAP = {
    "native.lime": {"num_samples": 60},
    "native.kernelshap": {"num_samples": 60},
    "lime.image": {"num_samples": 60},
    "shap.kernel": {"num_samples": 80},
    "shap.partition": {"max_evals": 60},
    "shap.gradient": {"nsamples": 20},
    "omnixai.lime": {"num_samples": 60},
    "omnixai.ig": {"steps": 4},
    "omnixai.smoothgrad": {"num_samples": 4},
    "gradients.integrated": {"steps": 8},
    "xplique.integrated_gradients": {"steps": 4},
    "xplique.smoothgrad": {"nb_samples": 4},
    "xplique.vargrad": {"nb_samples": 4},
    "xplique.squaregrad": {"nb_samples": 4},
    "xplique.occlusion": {"patch_size": 128, "patch_stride": 128},
    "xplique.rise": {"nb_samples": 20},
    "xplique.lime": {"nb_samples": 30},
    "xplique.kernelshap": {"nb_samples": 30},
    "xplique.sobol": {"grid_size": 2, "nb_design": 2},
    "xplique.hsic": {"grid_size": 2, "nb_design": 8},
}
