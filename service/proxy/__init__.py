"""Filing on someone's behalf (代理申請): the principal's signed mandate, checked at intake and shown to clerks."""
