"""A plugin for the tests: ``constant.center`` puts all attribution on the centre pixel."""

import numpy as np

from xaihub import Explainer, Explanation, hookimpl


class Center(Explainer):
    name = "constant.center"
    summary = "all attribution on the centre pixel"

    def explain(self, model, image, targets, *, seed):
        model.predict(image[None])
        attribution = np.zeros(image.shape[:2], np.float32)
        attribution[image.shape[0] // 2, image.shape[1] // 2] = 1.0
        return [Explanation(target=t, attribution=attribution) for t in targets]


@hookimpl
def register_explainers(register):
    register(Center())
