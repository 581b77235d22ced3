"""Learning: what the learned analysers are made of and how they are made.

contract.py   the base class every learned model implements (build, load weights, infer, train, report)
zoo.py        one name per model -> its class (imported lazily)
models/       one module per model: network, training, report
training.py   the one training loop; weights.py shipped weights (architecture-checked); teacher.py DIS flow
data.py       real clips (one loader: heads for training, held-out tails for reports); scenes.py generated
              scenes with exact masks and motion (one generator); blocks.py layers the networks share
speed.py      the speed report of the whole learned analysis
"""
