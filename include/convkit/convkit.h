// The whole public API of convkit.
#pragma once

#include "convkit/backward.h"
#include "convkit/composite.h"
#include "convkit/conv.h"
#include "convkit/cost.h"
#include "convkit/csv.h"
#include "convkit/error.h"
#include "convkit/filters.h"
#include "convkit/image.h"
#include "convkit/kernel_text.h"
#include "convkit/model.h"
#include "convkit/npy.h"
#include "convkit/reference.h"
#include "convkit/shape.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"
#include "convkit/train.h"
