"""Models written as a user would write them, for studies and tests to name by reference (``examples.tinyvgg:TinyVGG``)."""
