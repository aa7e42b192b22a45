#!/usr/bin/python3
"""Writes examples/models/*.json: published CNNs in Keras's own model.to_json() format, without Keras.

Each model is built layer by layer as keras.applications builds it (the layer types, arguments and names
of keras/src/applications/vgg16.py, mobilenet.py and resnet.py in Keras 3), and written as Keras writes
it: VGG16, MobileNet and ResNet50 as Keras 3 functional models ("inbound_nodes" with "__keras_tensor__"
arguments), C3D (Tran et al. 2015, "Learning Spatiotemporal Features with 3D Convolutional Networks",
the Sports-1M network: 8 convolutions, 5 poolings, 2 fully connected layers of 4096, 487 classes) as a
Keras 2 Sequential model ("batch_input_shape" on its first layer). The output is deterministic: running
this script again rewrites the same bytes.

    /usr/bin/python3 scripts/keras_models.py [OUT_DIR]   (default: examples/models)
"""

import json
import os
import sys

FLOAT = "float32"


def initializer(name, **config):
    return {"module": "keras.initializers", "class_name": name, "config": config, "registered_name": None}


def conv_config(filters, kernel_size, strides=1, padding="valid", use_bias=True, activation="linear"):
    rank = 2
    return {"filters": filters, "kernel_size": [kernel_size] * rank if isinstance(kernel_size, int) else kernel_size,
            "strides": [strides] * rank if isinstance(strides, int) else strides, "padding": padding,
            "data_format": "channels_last", "dilation_rate": [1] * rank, "groups": 1, "activation": activation,
            "use_bias": use_bias, "kernel_initializer": initializer("GlorotUniform", seed=None),
            "bias_initializer": initializer("Zeros"), "kernel_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}


def batch_norm_config(epsilon=1e-3):
    return {"axis": -1, "momentum": 0.99, "epsilon": epsilon, "center": True, "scale": True,
            "beta_initializer": initializer("Zeros"), "gamma_initializer": initializer("Ones"),
            "moving_mean_initializer": initializer("Zeros"), "moving_variance_initializer": initializer("Ones"),
            "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None,
            "synchronized": False}


def dense_config(units, activation="linear"):
    return {"units": units, "activation": activation, "use_bias": True,
            "kernel_initializer": initializer("GlorotUniform", seed=None), "bias_initializer": initializer("Zeros"),
            "kernel_regularizer": None, "bias_regularizer": None, "kernel_constraint": None, "bias_constraint": None}


class Functional:
    """A Keras 3 functional model being built: add() returns the new layer's name (its output tensor)."""

    def __init__(self, name, input_shape, input_name="input_layer"):
        self.name = name
        self.input_name = input_name
        self.layers = [{"module": "keras.layers", "class_name": "InputLayer",
                        "config": {"batch_shape": [None, *input_shape], "dtype": FLOAT, "sparse": False,
                                   "name": input_name},
                        "registered_name": None, "name": input_name, "inbound_nodes": []}]

    def add(self, class_name, name, inputs, **config):
        tensors = [{"class_name": "__keras_tensor__",
                    "config": {"shape": None, "dtype": FLOAT, "keras_history": [source, 0, 0]}} for source in inputs]
        args = [tensors] if len(tensors) > 1 else tensors  # a merge takes its tensors as one list argument
        self.layers.append({"module": "keras.layers", "class_name": class_name,
                            "config": {"name": name, "trainable": True, "dtype": FLOAT, **config},
                            "registered_name": None, "name": name,
                            "inbound_nodes": [{"args": args, "kwargs": {}}]})
        return name

    def to_json(self):
        output = self.layers[-1]["name"]
        return {"module": "keras.src.models.functional", "class_name": "Functional",
                "config": {"name": self.name, "trainable": True, "layers": self.layers,
                           "input_layers": [self.input_name, 0, 0], "output_layers": [output, 0, 0]},
                "registered_name": "Functional", "keras_version": "3.3.3", "backend": "tensorflow"}


def vgg16():
    """keras.applications.VGG16(include_top=True): 138,357,544 parameters."""
    m = Functional("vgg16", [224, 224, 3])
    x = m.input_name
    for block, (filters, convs) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], start=1):
        for conv in range(1, convs + 1):
            x = m.add("Conv2D", f"block{block}_conv{conv}", [x], **conv_config(filters, 3, padding="same",
                                                                               activation="relu"))
        x = m.add("MaxPooling2D", f"block{block}_pool", [x], pool_size=[2, 2], padding="valid", strides=[2, 2],
                  data_format="channels_last")
    x = m.add("Flatten", "flatten", [x], data_format="channels_last")
    x = m.add("Dense", "fc1", [x], **dense_config(4096, "relu"))
    x = m.add("Dense", "fc2", [x], **dense_config(4096, "relu"))
    m.add("Dense", "predictions", [x], **dense_config(1000, "softmax"))
    return m.to_json()


def mobilenet():
    """keras.applications.MobileNet(alpha=1.0, depth_multiplier=1, include_top=True, 224x224): 4,253,864
    parameters, 4,231,976 trainable."""
    m = Functional("mobilenet_1.00_224", [224, 224, 3])

    def conv_block(x, filters, strides):  # mobilenet.py _conv_block
        x = m.add("Conv2D", "conv1", [x], **conv_config(filters, 3, strides, padding="same", use_bias=False))
        x = m.add("BatchNormalization", "conv1_bn", [x], **batch_norm_config())
        return m.add("ReLU", "conv1_relu", [x], max_value=6.0, negative_slope=0.0, threshold=0.0)

    def depthwise_block(x, filters, strides, block):  # mobilenet.py _depthwise_conv_block
        if strides != 1:
            x = m.add("ZeroPadding2D", f"conv_pad_{block}", [x], padding=[[0, 1], [0, 1]], data_format="channels_last")
        depthwise = {"kernel_size": [3, 3], "strides": [strides, strides],
                     "padding": "same" if strides == 1 else "valid", "data_format": "channels_last",
                     "dilation_rate": [1, 1], "activation": "linear", "use_bias": False, "depth_multiplier": 1,
                     "depthwise_initializer": initializer("GlorotUniform", seed=None),
                     "bias_initializer": initializer("Zeros"), "depthwise_regularizer": None,
                     "bias_regularizer": None, "activity_regularizer": None, "depthwise_constraint": None,
                     "bias_constraint": None}
        x = m.add("DepthwiseConv2D", f"conv_dw_{block}", [x], **depthwise)
        x = m.add("BatchNormalization", f"conv_dw_{block}_bn", [x], **batch_norm_config())
        x = m.add("ReLU", f"conv_dw_{block}_relu", [x], max_value=6.0, negative_slope=0.0, threshold=0.0)
        x = m.add("Conv2D", f"conv_pw_{block}", [x], **conv_config(filters, 1, padding="same", use_bias=False))
        x = m.add("BatchNormalization", f"conv_pw_{block}_bn", [x], **batch_norm_config())
        return m.add("ReLU", f"conv_pw_{block}_relu", [x], max_value=6.0, negative_slope=0.0, threshold=0.0)

    x = conv_block(m.input_name, 32, 2)
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    for block, (filters, strides) in enumerate(blocks, start=1):
        x = depthwise_block(x, filters, strides, block)
    x = m.add("GlobalAveragePooling2D", "global_average_pooling2d", [x], data_format="channels_last", keepdims=True)
    x = m.add("Dropout", "dropout", [x], rate=1e-3, seed=None, noise_shape=None)
    x = m.add("Conv2D", "conv_preds", [x], **conv_config(1000, 1, padding="same"))
    x = m.add("Reshape", "reshape_2", [x], target_shape=[1000])
    m.add("Activation", "predictions", [x], activation="softmax")
    return m.to_json()


def resnet50():
    """keras.applications.ResNet50(include_top=True): 25,636,712 parameters, 53,120 non-trainable (the
    batch normalizations' moving means and variances)."""
    m = Functional("resnet50", [224, 224, 3], input_name="input_layer")

    def bn(x, name):
        return m.add("BatchNormalization", name, [x], **batch_norm_config(1.001e-5))

    def block(x, filters, name, stride=1, conv_shortcut=True):  # resnet.py residual_block_v1
        if conv_shortcut:
            shortcut = m.add("Conv2D", f"{name}_0_conv", [x], **conv_config(4 * filters, 1, stride))
            shortcut = bn(shortcut, f"{name}_0_bn")
        else:
            shortcut = x
        x = m.add("Conv2D", f"{name}_1_conv", [x], **conv_config(filters, 1, stride))
        x = m.add("Activation", f"{name}_1_relu", [bn(x, f"{name}_1_bn")], activation="relu")
        x = m.add("Conv2D", f"{name}_2_conv", [x], **conv_config(filters, 3, padding="same"))
        x = m.add("Activation", f"{name}_2_relu", [bn(x, f"{name}_2_bn")], activation="relu")
        x = bn(m.add("Conv2D", f"{name}_3_conv", [x], **conv_config(4 * filters, 1)), f"{name}_3_bn")
        x = m.add("Add", f"{name}_add", [shortcut, x])
        return m.add("Activation", f"{name}_out", [x], activation="relu")

    def stack(x, filters, blocks, name, stride1=2):  # resnet.py stack_residual_blocks_v1
        x = block(x, filters, f"{name}_block1", stride=stride1)
        for i in range(2, blocks + 1):
            x = block(x, filters, f"{name}_block{i}", conv_shortcut=False)
        return x

    x = m.add("ZeroPadding2D", "conv1_pad", [m.input_name], padding=[[3, 3], [3, 3]], data_format="channels_last")
    x = m.add("Conv2D", "conv1_conv", [x], **conv_config(64, 7, 2))
    x = m.add("Activation", "conv1_relu", [bn(x, "conv1_bn")], activation="relu")
    x = m.add("ZeroPadding2D", "pool1_pad", [x], padding=[[1, 1], [1, 1]], data_format="channels_last")
    x = m.add("MaxPooling2D", "pool1_pool", [x], pool_size=[3, 3], padding="valid", strides=[2, 2],
              data_format="channels_last")
    x = stack(x, 64, 3, "conv2", stride1=1)
    x = stack(x, 128, 4, "conv3")
    x = stack(x, 256, 6, "conv4")
    x = stack(x, 512, 3, "conv5")
    x = m.add("GlobalAveragePooling2D", "avg_pool", [x], data_format="channels_last", keepdims=False)
    m.add("Dense", "predictions", [x], **dense_config(1000, "softmax"))
    return m.to_json()


def c3d():
    """C3D (Tran et al. 2015, Fig. 3) on 16 frames of 112x112 RGB, as a Keras 2 Sequential model."""
    layers = []

    def add(class_name, name, **config):
        layers.append({"class_name": class_name, "config": {"name": name, "trainable": True, "dtype": FLOAT,
                                                              **config}})

    def conv(name, filters):
        config = conv_config(filters, 3, padding="same", activation="relu")
        config.update(kernel_size=[3, 3, 3], strides=[1, 1, 1], dilation_rate=[1, 1, 1])
        add("Conv3D", name, **config)

    def pool(name, size):
        add("MaxPooling3D", name, pool_size=size, padding="valid", strides=size, data_format="channels_last")

    conv("conv1", 64)
    layers[0]["config"]["batch_input_shape"] = [None, 16, 112, 112, 3]
    pool("pool1", [1, 2, 2])  # pool1 keeps the 16 frames (the paper: "kernel size 1x2x2")
    conv("conv2", 128)
    pool("pool2", [2, 2, 2])
    conv("conv3a", 256)
    conv("conv3b", 256)
    pool("pool3", [2, 2, 2])
    conv("conv4a", 512)
    conv("conv4b", 512)
    pool("pool4", [2, 2, 2])
    conv("conv5a", 512)
    conv("conv5b", 512)
    add("ZeroPadding3D", "zeropad5", padding=[[0, 0], [1, 1], [1, 1]], data_format="channels_last")
    pool("pool5", [2, 2, 2])
    add("Flatten", "flatten", data_format="channels_last")
    add("Dense", "fc6", **dense_config(4096, "relu"))
    add("Dropout", "dropout_1", rate=0.5, noise_shape=None, seed=None)
    add("Dense", "fc7", **dense_config(4096, "relu"))
    add("Dropout", "dropout_2", rate=0.5, noise_shape=None, seed=None)
    add("Dense", "fc8", **dense_config(487, "softmax"))
    return {"class_name": "Sequential", "config": {"name": "c3d_sports1m", "layers": layers},
            "keras_version": "2.15.0", "backend": "tensorflow"}


MODELS = {"vgg16": vgg16, "mobilenet": mobilenet, "resnet50": resnet50, "c3d": c3d}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "examples", "models")
    for name, build in MODELS.items():
        path = os.path.join(out, name + ".json")
        with open(path + ".tmp", "w", encoding="utf-8") as file:
            json.dump(build(), file, indent=1)
            file.write("\n")
        os.replace(path + ".tmp", path)
        print(path)


if __name__ == "__main__":
    main()
