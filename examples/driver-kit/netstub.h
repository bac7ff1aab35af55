/*
 * examples/driver-kit/netstub.h - the few networking-stack names the
 * example NIC driver calls (sk_buff, netdev_alloc_skb, skb_put_data,
 * netif_receive_skb), stubbed for a userspace test.
 *
 * Owns: a stand-in for the stack above the driver, nothing about DMA.
 * skb_put_data is a CPU read of the driver's buffer, so it declares the
 * read to the DMA API checker (dmamap_linux_cpu_read) as the stack's
 * memcpy would be seen if loads could be watched.  Must never call the
 * library directly.
 */
#ifndef NETSTUB_H
#define NETSTUB_H

#include <dmamap/sim/kit.h>

struct sk_buff {
	unsigned char *head;  /* kmalloc'd storage, or the driver's rx buffer (build_skb) */
	unsigned char *data;
	unsigned int len;
	unsigned int truesize;
	struct sk_buff *next; /* the test's receive queue */
};

/* What netif_receive_skb hands packets to: the test's receive queue. */
extern void (*netstub_deliver)(struct sk_buff *skb);

static inline struct sk_buff *netdev_alloc_skb(void *netdev, unsigned int len)
{
	(void)netdev;
	struct sk_buff *skb = calloc(1, sizeof(*skb));
	if (!skb)
		return NULL;
	skb->head = skb->data = kmalloc(len, GFP_ATOMIC);
	if (!skb->head) {
		free(skb);
		return NULL;
	}
	skb->truesize = len;
	return skb;
}
/* Wraps a buffer the driver filled by DMA (and unmapped) without a copy. */
static inline struct sk_buff *build_skb(void *data, unsigned int frag_size)
{
	struct sk_buff *skb = calloc(1, sizeof(*skb));
	if (!skb)
		return NULL;
	skb->head = skb->data = data;
	skb->truesize = frag_size;
	return skb;
}
static inline void *skb_put(struct sk_buff *skb, unsigned int len)
{
	void *tail = skb->data + skb->len;
	skb->len += len;
	return tail;
}
static inline void *skb_put_data(struct sk_buff *skb, const void *data, unsigned int len)
{
	dmamap_linux_cpu_read(data, len);
	return memcpy(skb_put(skb, len), data, len);
}
static inline void kfree_skb(struct sk_buff *skb)
{
	if (skb) {
		kfree(skb->head);
		free(skb);
	}
}
static inline int netif_receive_skb(struct sk_buff *skb)
{
	netstub_deliver(skb);
	return 0;
}

#endif
