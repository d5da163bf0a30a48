import unittest

import greet


class GreetTest(unittest.TestCase):
    def test_hello(self):
        self.assertEqual(greet.hello("x"), "hello, x")


if __name__ == "__main__":
    unittest.main()
