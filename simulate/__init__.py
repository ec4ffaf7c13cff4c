"""collective_action.simulate"""
