"""The SGD-SM 2.0 LSTM-CNN (paper sect. 3.1): partial convolutions and the LSTM cell."""
