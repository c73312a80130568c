/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ktap.h - a few lines of KTAP for the test modules: Debian's kernels have
 * no KUnit, so the modules print the format themselves and
 * scripts/test-kernel.sh reads it from the console.
 */
#ifndef LAB_KTAP_H
#define LAB_KTAP_H

#include <linux/printk.h>

struct ktap_case {
	const char *name;
	int (*run)(void); /* 0: ok */
};

/* A failed expectation: one diagnostic line, the case fails. */
#define EXPECT(cond)							\
	do {								\
		if (!(cond)) {						\
			printk(KERN_INFO "# %s:%d: expected %s\n",	\
			       __func__, __LINE__, #cond);		\
			return -1;					\
		}							\
	} while (0)

/*
 * The same once timers or threads run on the case's stack: set ret and
 * jump to the label that stops them, never return past it.
 */
#define EXPECT_OR(cond, label)						\
	do {								\
		if (!(cond)) {						\
			printk(KERN_INFO "# %s:%d: expected %s\n",	\
			       __func__, __LINE__, #cond);		\
			ret = -1;					\
			goto label;					\
		}							\
	} while (0)

static inline int ktap_run(const struct ktap_case *cases, int n)
{
	int i, failed = 0;

	printk(KERN_INFO "KTAP version 1\n");
	printk(KERN_INFO "1..%d\n", n);
	for (i = 0; i < n; i++) {
		int err = cases[i].run();

		failed += err != 0;
		printk(KERN_INFO "%sok %d %s\n", err ? "not " : "", i + 1, cases[i].name);
	}
	return failed;
}

#endif /* LAB_KTAP_H */
