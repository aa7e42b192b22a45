// A model as Keras's plot_model draws it: one box per layer, top to bottom, each with its name, type,
// output shape, parameters and MACs, joined by arrows, under a title with the totals.
#pragma once

#include "convkit/model.h"
#include "draw/scene.h"

namespace convkit::draw {

Scene model_figure(const Model& model, const std::string& title);

}  // namespace convkit::draw
