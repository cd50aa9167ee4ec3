"""Measured accuracy on the board: a labelled image set through a model (numpy and Pillow, no torch).

``preprocess`` turns an image file into the model's input as torchvision's evaluation does,
``datasets`` lists a labelled set (class folders or a labels file), ``evaluate`` runs the model
over it and counts top-1, top-5 and agreement with a reference. Pillow is imported only when an
image is read, so importing this package needs numpy only.
"""
