from builder.errors import BuilderError, BuilderWarning


def test_error_names_node_then_message_then_hint():
    err = BuilderError(
        "kernel 5 is larger than its 3x3 input",
        node="conv2",
        hint="Lower kernel_size or add padding.",
    )
    assert (
        str(err)
        == "conv2: kernel 5 is larger than its 3x3 input. Lower kernel_size or add padding."
    )


def test_error_names_field_of_node():
    err = BuilderError("must be at least 1", node="fc1", field="out_features")
    assert err.where == "fc1.out_features"
    assert str(err) == "fc1.out_features: must be at least 1"


def test_error_names_edge_or_file():
    assert str(BuilderError("dangling", edge=("a", "b"))) == "edge a -> b: dangling"
    assert str(BuilderError("not an NPZ file", file="data.csv")) == "data.csv: not an NPZ file"


def test_warning_reads_like_error():
    warning = BuilderWarning("Softmax before cross-entropy", node="sm", hint="Remove it.")
    assert str(warning) == "sm: Softmax before cross-entropy. Remove it."
